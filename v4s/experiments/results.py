"""``python -m v4s.experiments.results``: the closed-loop results table of ``docs/results.md``.

Runs (or resumes) every benchmark run of the table with ``v4s-bench``'s own code, then writes
``docs/results.md`` from their ``episodes.jsonl``: the headline table (test split, 100 episodes
per task: video, random, oracle) and the ablations (50 test episodes per task: K=1 vs K=4, real vs
noise context, IDM vs geometric extraction). Every run appends per episode, so a killed
evaluation resumes where it stopped; the runs live in ``docs/results/<run>/`` (tracked by git),
so an evaluation spans sessions. A run that has not finished is shown with the episodes it has,
and marked so.

    python -m v4s.experiments.results              # run what is missing, then write the table
    python -m v4s.experiments.results --table-only # write the table from what has run
    python -m v4s.experiments.results --only video-objectnav,video-posenav
    python -m v4s.experiments.results --only video-objectnav --replace-stale

A run whose recorded fingerprint differs from what its command now asks (a changed default, a new
checkpoint) refuses to resume, naming the fields; ``--replace-stale`` starts such runs afresh instead,
keeping the old episodes in the run's ``replaced-<UTC time>/`` folder. It resumes the others, so it can
be passed again after a kill.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_module

from v4s.experiments.bench import run_bench, settings_from_config
from v4s.experiments.records import EpisodeLog, format_figure, strict_json, summarize
from v4s.experiments.run_dir import RunDirectory, differences
from v4s.fileio import write_text_atomic

COMMAND = "python -m v4s.experiments.results"


@dataclass(frozen=True)
class Run:
    name: str
    table: str  #: "main" or "ablation"
    label: str  #: what the row is, in the table
    overrides: tuple[str, ...]
    num_episodes: int
    directory: str = ""  #: the run directory when it is another row's (the ablation's K=4 is the headline run)

    @property
    def folder(self) -> str:
        return self.directory or self.name


def runs() -> list[Run]:
    out = []
    for task in ("objectnav", "posenav"):
        for agent in ("video", "random", "oracle"):
            out.append(Run(f"{agent}-{task}", "main", agent, (f"task={task}", f"agent={agent}"), 100))
        out.append(Run(f"ablation-k4-{task}", "ablation", "K=4 (default)", (f"task={task}", "agent=video"), 50,
                       directory=f"video-{task}"))
        for name, label, extra in (("k1", "K=1", ("agent.num_candidates=1",)),
                                   ("noise", "noise context", ("agent.context=noise",)),
                                   ("geometric", "geometric extraction", ("agent.extractor=geometric",))):
            out.append(Run(f"ablation-{name}-{task}", "ablation", label, (f"task={task}", "agent=video", *extra), 50))
    return out


def run_one(run: Run, root: Path, replace_stale: bool = False) -> None:
    with initialize_config_module(config_module="v4s.experiments.conf", version_base=None):
        cfg = compose(config_name="bench", overrides=[*run.overrides, "split=test",
                                                      f"num_episodes={run.num_episodes}", f"out={root / run.name}"])
    settings = settings_from_config(cfg)
    if replace_stale:
        settings.resume = not _stale(settings)
    run_bench(settings)


def _stale(settings) -> bool:
    """Whether the run dir holds results recorded under another fingerprint than ``settings``'s."""
    run_dir = RunDirectory(settings.out)
    recorded = run_dir.recorded() if run_dir.has_results() else None
    return recorded is not None and bool(differences(recorded, json.loads(strict_json(settings.fingerprint()))))


def _summary(run: Run, root: Path) -> dict | None:
    """The summary of a run's first ``num_episodes`` logged episodes, or None when none has run."""
    log_path = root / run.folder / "episodes.jsonl"
    if not log_path.exists():
        return None
    records = [r for r in EpisodeLog(log_path).records.values() if int(r["episode_id"]) < run.num_episodes]
    return summarize(records) if records else None


def _row(run: Run, root: Path) -> str | None:
    s = _summary(run, root)
    if s is None:
        return None
    task = run.overrides[0].split("=")[1]
    done = f"{s['num_episodes']}" + ("" if s["num_episodes"] >= run.num_episodes else f" of {run.num_episodes} (running)")

    def f(key, digits):
        return format_figure(s.get(key), digits)

    return (f"| {task} | {run.label} | {done} | {f('success', 3)} | {f('spl', 3)} | {f('soft_spl', 3)} | "
            f"{f('distance_to_goal', 2)} | {f('plan_seconds', 2)} | {f('episode_seconds', 1)} | "
            f"{f('plans_per_episode', 1)} | {'–' if s.get('fallbacks') is None else s['fallbacks']} | "
            f"{_hosts(s['hosts'], s['num_episodes'])} |")


def _hosts(hosts: dict[str, int], num_episodes: int) -> str:
    """Which machines a row's episodes ran on (its seconds depend on it), with counts when it is more than one."""
    counts: Counter[str] = Counter()
    for name, n in hosts.items():  # hosts that differ only in what the short name drops count together
        counts[_short_host(name)] += n
    if num_episodes > sum(hosts.values()):
        counts["not recorded"] = num_episodes - sum(hosts.values())
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{name} ({n})" for name, n in counts.items())


def _short_host(host: str) -> str:
    """``Intel(R) Xeon(R) Processor, 2 CPUs`` -> ``Intel Xeon, 2 CPUs``."""
    return re.sub(r"\s+", " ", re.sub(r"\((R|TM)\)|\b(Processor|CPU @ [\d.]+ ?GHz)", "", host, flags=re.I)).replace(" ,", ",").strip()


HEADER = ("| task | agent | episodes | success | SPL | SoftSPL | dist. to goal (m) | plan s | episode s | plans/episode "
          "| fallbacks | host |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


#: the closed-loop targets of the video model (issue 8): (figure, run, its measure, target, the run to subtract)
TARGETS = (("ObjectNav success", "video-objectnav", "success", 0.5, None),
           ("ObjectNav SPL", "video-objectnav", "spl", 0.3, None),
           ("PoseNav success", "video-posenav", "success", 0.6, None),
           ("ObjectNav success, real context minus noise context", "ablation-k4-objectnav", "success", 0.2,
            "ablation-noise-objectnav"))


def _targets(root: Path) -> str:
    """The targets table: each figure as measured, its target, and by how much it is missed."""
    by_name = {run.name: run for run in runs()}
    lines = ["| figure | measured | episodes | target | missed by |", "|---|---|---|---|---|"]
    for label, name, key, target, minus in TARGETS:
        s = _summary(by_name[name], root)
        other = _summary(by_name[minus], root) if minus else None
        if s is None or (minus and other is None):
            lines.append(f"| {label} | (not run yet) | – | at least {target:.2f} | – |")
            continue
        value = s[key] - (other[key] if other else 0.0)
        episodes = f"{s['num_episodes']}" + (f" and {other['num_episodes']}" if other else "")
        missed = "met" if value >= target else f"{target - value:.3f}"
        lines.append(f"| {label} | {value:.3f} | {episodes} | at least {target:.2f} | {missed} |")
    return "\n".join(lines)


def write_table(root: Path, path: Path) -> str:
    sections = {"main": [], "ablation": []}
    for run in runs():
        row = _row(run, root)
        if row is not None:
            sections[run.table].append(row)
    text = f"""# Closed-loop results

Generated by `{COMMAND}` (runs resume; `--table-only` rewrites this page from what has run).
Every row is computed from its run's per-episode log, `{root}/<run>/episodes.jsonl`.
Embedded simulator, **test split** (houses 200000+, never trained on), the bench's shipped
defaults, on 2-core CPU machines with no GPU. `host` names the CPU a row's episodes ran on, as
recorded in each episode's line (episodes run before v4s recorded it are counted as *not
recorded*: the AMD EPYC host of the first sessions for most of them, an Intel Xeon for some of the
later ablation episodes); the Intel host runs a plan in about half the time. `plan s` is the mean wall time
of one planner call, `episode s` the mean wall time of one episode, `fallbacks` the plans that
explored because no candidate was usable (NaN frames dropped, or the best candidate read as no motion).
A row marked *running* holds fewer episodes than its run asks for: with 3 to 5 episodes its figures
are a first look, not a result. Rerun the command to go on where the runs stopped.
Wall times are as measured, on whatever else the machine ran: a run resumed with one torch thread
beside other work (`OMP_NUM_THREADS=1`) takes about twice as long per plan as one alone on both cores,
so judge the time budget from a run alone on the machine, not from a row that mixes both.

## Test split, 100 episodes per task

{HEADER}
{chr(10).join(sections['main']) or '| (nothing has run yet) |'}

## Ablations of the video agent, 50 test episodes per task

{HEADER}
{chr(10).join(sections['ablation']) or '| (nothing has run yet) |'}

## Against the closed-loop targets of the video model

The shipped defaults, from the rows above (the context's effect from the two 50-episode ablation rows).

{_targets(root)}
"""
    write_text_atomic(path, text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table-only", action="store_true", help="write the table from what has run")
    parser.add_argument("--only", default="", help="comma-separated run names to run (default: all)")
    parser.add_argument("--root", default="docs/results", help="directory of the runs (tracked by git, so that an "
                        "evaluation spans sessions and its per-episode logs are part of the record)")
    parser.add_argument("--out", default="docs/results.md")
    parser.add_argument("--replace-stale", action="store_true", help="start afresh the runs recorded under another "
                        "fingerprint (their old episodes kept in replaced-<time>/) instead of refusing them")
    args = parser.parse_args(argv)
    root = Path(args.root)
    names = {r.name for r in runs()}
    only = [n for n in args.only.split(",") if n]
    unknown = sorted(set(only) - names)
    if unknown:
        raise SystemExit(f"--only: unknown runs {unknown}; the runs are {sorted(names)}")
    if not args.table_only:
        for run in runs():
            if (not only or run.name in only) and not run.directory:
                run_one(run, root, args.replace_stale)
                write_table(root, Path(args.out))
    print(write_table(root, Path(args.out)), end="")


if __name__ == "__main__":
    main()

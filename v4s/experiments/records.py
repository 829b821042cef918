"""Per-episode results, appended as they finish, so a killed run resumes where it stopped.

``episodes.jsonl`` holds one JSON object per finished episode. A run killed while
writing leaves at most a torn last line: it is cut off when the file is reopened, and
the episode runs again. A broken line anywhere else is an error naming the line.
"""

from __future__ import annotations

import json
import os
import platform
import re
from collections import Counter
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

#: metrics averaged into summary.json, in table order
METRICS = ("success", "spl", "soft_spl", "distance_to_goal", "collisions", "num_steps", "oracle_success")


class RecordFileError(ValueError):
    """An episodes.jsonl that cannot be resumed."""


class EpisodeLog:
    """Append-only log of finished episodes, keyed by ``episode_id``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        good = 0  # bytes up to the end of the last complete line
        for number, line in enumerate(data.splitlines(keepends=True), start=1):
            if not line.endswith(b"\n"):
                break  # torn write at the end: drop it, the episode runs again
            try:
                record = json.loads(line)
                episode_id = str(record["episode_id"])
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
                raise RecordFileError(f"{self.path}: line {number} is not an episode record ({e}); "
                                      "fix or delete that line to resume") from None
            self.records.setdefault(episode_id, record)
            good += len(line)
        if good < len(data):
            with self.path.open("r+b") as f:
                f.truncate(good)

    def __contains__(self, episode_id: str) -> bool:
        return episode_id in self.records

    def __len__(self) -> int:
        return len(self.records)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and flush it to disk before returning."""
        episode_id = str(record["episode_id"])
        if episode_id in self.records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(strict_json(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records[episode_id] = record


def strict_json(value: Any, **kwargs: Any) -> str:
    """JSON that strict parsers read: a NaN or infinite number is an error here, never ``NaN`` in the file."""
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError as e:
        raise ValueError(f"refusing to write a non-finite number as JSON ({e}): {value!r}") from None


@cache
def host() -> str:
    """The machine an episode ran on, as its wall times depend on it: the CPU's model and how many CPUs this
    process may use, e.g. ``Intel(R) Xeon(R) Processor, 2 CPUs`` (plus the GPU when torch sees one)."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    model = re.sub(r"\s+", " ", model or platform.processor() or platform.machine() or "unknown CPU")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = f"{model}, {cpus} CPUs"
    try:
        import torch

        if torch.cuda.is_available():
            out += f", {torch.cuda.get_device_name()}"
    except ImportError:
        pass
    return out


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Mean of every metric over the records, and how many there are; the planner's figures
    (``plan_seconds`` per planner call, ``plans_per_episode``, ``fallbacks`` and ``blocked_forwards``
    in all) for agents that plan, ``episode_seconds`` per episode for all, and ``hosts``: how many of the
    episodes ran on each machine (records written before v4s recorded the host are not counted)."""
    records = list(records)
    out: dict[str, Any] = {"num_episodes": len(records)}
    for key in METRICS:  # a mean over every record, or None (a metric that older records do not carry)
        values = [float(r[key]) for r in records if key in r]
        out[key] = round(sum(values) / len(values), 6) if values and len(values) == len(records) else None
    seconds = [float(r["episode_seconds"]) for r in records if "episode_seconds" in r]
    out["episode_seconds"] = round(sum(seconds) / len(seconds), 3) if seconds else None
    planned = [r for r in records if "plans" in r]
    plans = sum(int(r["plans"]) for r in planned)
    out["plan_seconds"] = round(sum(float(r["plan_seconds_total"]) for r in planned) / plans, 4) if plans else None
    out["plans_per_episode"] = round(plans / len(planned), 3) if planned else None
    out["fallbacks"] = sum(int(r.get("fallbacks", 0)) for r in planned) if planned else None
    out["blocked_forwards"] = sum(int(r.get("blocked_forwards", 0)) for r in planned) if planned else None
    out["hosts"] = dict(Counter(str(r["host"]) for r in records if "host" in r))
    return out


def format_figure(value: Any, digits: int) -> str:
    """A figure for a table: ``digits`` decimals, or a dash when it was not measured."""
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A table of summaries: one row per (task, agent, split)."""
    header = ("| task | agent | split | episodes | success | SPL | SoftSPL | oracle success | dist. to goal (m) "
              "| episodes/s | steps/s | episode s | plan s |")
    lines = [header, "|" + "---|" * 13]
    for r in rows:
        lines.append(f"| {r['task']} | {r['agent']} | {r['split']} | {r['num_episodes']} | {r['success']:.3f} | "
                     f"{r['spl']:.3f} | {r['soft_spl']:.3f} | {format_figure(r.get('oracle_success'), 3)} | "
                     f"{r['distance_to_goal']:.2f} | "
                     f"{r['episodes_per_s']:.2f} | {r['steps_per_s']:.1f} | {format_figure(r.get('episode_seconds'), 2)} | "
                     f"{format_figure(r.get('plan_seconds'), 2)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python -m v4s.experiments.records DIR/summary.json ...``: print the summaries as one table."""
    import sys

    paths = argv if argv is not None else sys.argv[1:]
    rows = [json.loads(Path(p).read_text()) for p in paths]
    print(markdown_table(rows), end="")


if __name__ == "__main__":
    main()

"""docs/results.md's command: rows come from the runs' own episode logs, unfinished runs are marked."""

from __future__ import annotations

import json

import pytest

from v4s.experiments.records import EpisodeLog, host
from v4s.experiments.results import _hosts, _short_host, main, run_one, runs, write_table
from v4s.experiments.run_dir import RunConflictError


def test_the_table_is_written_from_the_runs_and_marks_unfinished_ones(tmp_path, monkeypatch):
    oracle = next(r for r in runs() if r.name == "oracle-posenav")
    short = type(oracle)(**{**oracle.__dict__, "num_episodes": 2})
    run_one(short, tmp_path / "runs")
    text = write_table(tmp_path / "runs", tmp_path / "results.md")
    assert text.startswith("# Closed-loop results") and "python -m v4s.experiments.results" in text
    row = next(line for line in text.splitlines() if line.startswith("| posenav | oracle |"))
    assert "| 2 of 100 (running) | 1.000 |" in row  # the headline run asks for 100 test episodes
    assert (tmp_path / "results.md").read_text() == text
    with pytest.raises(SystemExit, match="unknown runs"):
        main(["--only", "video-everything", "--root", str(tmp_path / "runs")])


def test_each_row_names_the_host_its_episodes_ran_on(tmp_path):
    oracle = next(r for r in runs() if r.name == "oracle-objectnav")
    run_one(type(oracle)(**{**oracle.__dict__, "num_episodes": 2}), tmp_path / "runs")
    log = tmp_path / "runs" / "oracle-objectnav" / "episodes.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(r["host"] == host() for r in records)
    summary = json.loads((log.parent / "summary.json").read_text())
    assert summary["hosts"] == {host(): 2}

    def row() -> str:
        text = write_table(tmp_path / "runs", tmp_path / "results.md")
        return next(line for line in text.splitlines() if line.startswith("| objectnav | oracle |"))

    here = _short_host(host())
    assert row().endswith(f"| {here} |") and "(R)" not in here
    del records[0]["host"]  # an episode logged before v4s recorded its host
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert row().endswith(f"| {here} (1), not recorded (1) |")
    # two hosts that differ only in what the short name leaves out count together
    assert _hosts({"Intel(R) Xeon(R) CPU @ 2.20GHz, 2 CPUs": 3, "Intel(R) Xeon(R) CPU @ 2.30GHz, 2 CPUs": 2}, 6) == \
        "Intel Xeon, 2 CPUs (5), not recorded (1)"


def test_the_targets_table_says_by_how_much_each_target_is_missed(tmp_path):
    def log(run: str, successes: list[float]) -> None:  # the bench's own log, with the fields the table reads
        records = [{"episode_id": str(i), "success": s, "spl": 0.4 * s, "soft_spl": 0.5, "distance_to_goal": 1.0,
                    "collisions": 0, "num_steps": 100, "episode_seconds": 10.0} for i, s in enumerate(successes)]
        episodes = EpisodeLog(tmp_path / "runs" / run / "episodes.jsonl")
        for record in records:
            episodes.append(record)

    log("video-objectnav", [1.0, 0.0, 0.0, 0.0])  # success 0.25, SPL 0.1
    log("ablation-noise-objectnav", [0.0, 0.0])
    lines = write_table(tmp_path / "runs", tmp_path / "results.md").splitlines()
    row = {line.split(" | ")[0].lstrip("| "): line for line in lines[lines.index(
        "## Against the closed-loop targets of the video model"):] if line.startswith("| ")}
    assert row["ObjectNav success"] == "| ObjectNav success | 0.250 | 4 | at least 0.50 | 0.250 |"
    assert row["ObjectNav SPL"] == "| ObjectNav SPL | 0.100 | 4 | at least 0.30 | 0.200 |"
    assert row["PoseNav success"] == "| PoseNav success | (not run yet) | – | at least 0.60 | – |"
    # the ablation's K=4 row is the headline run's first 50 episodes: 0.25 real against 0.0 noise, met
    assert row["ObjectNav success, real context minus noise context"].endswith("| 0.250 | 4 and 2 | at least 0.20 | met |")


def test_replace_stale_starts_afresh_only_a_run_recorded_under_another_fingerprint(tmp_path):
    oracle = next(r for r in runs() if r.name == "oracle-posenav")
    short = type(oracle)(**{**oracle.__dict__, "num_episodes": 2})
    out = tmp_path / "runs" / "oracle-posenav"
    run_one(short, tmp_path / "runs")
    run_one(short, tmp_path / "runs", replace_stale=True)  # the same fingerprint: resumed, nothing set aside
    assert not list(out.glob("replaced-*"))
    record = json.loads((out / "run.json").read_text())
    record["fingerprint"]["v4s"] = "0.0.1"  # as if recorded by an older v4s
    (out / "run.json").write_text(json.dumps(record))
    with pytest.raises(RunConflictError, match="v4s: '0.0.1'"):
        run_one(short, tmp_path / "runs")
    run_one(short, tmp_path / "runs", replace_stale=True)
    (aside,) = out.glob("replaced-*")
    assert len(EpisodeLog(aside / "episodes.jsonl")) == 2 and len(EpisodeLog(out / "episodes.jsonl")) == 2
    assert json.loads((out / "run.json").read_text())["fingerprint"]["v4s"] != "0.0.1"

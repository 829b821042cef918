"""docs/results.md's command: rows come from the runs' own episode logs, unfinished runs are marked."""

from __future__ import annotations

import json

import pytest

from v4s.experiments.records import host
from v4s.experiments.results import _short_host, main, run_one, runs, write_table


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

"""docs/results.md's command: rows come from the runs' own episode logs, unfinished runs are marked."""

from __future__ import annotations

import pytest

from v4s.experiments.results import main, run_one, runs, write_table


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

"""v4s-bench end to end: files, resume after a kill, vector envs, videos, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from v4s.envs.tasks.config import task_config
from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config
from v4s.envs.tasks.episodes import EpisodeFileError
from v4s.experiments.bench import BenchSettings, run_bench
from v4s.experiments.records import EpisodeLog, RecordFileError

TIMING = {"episodes_per_s", "steps_per_s", "wall_s", "num_envs", "episode_seconds"}


def _settings(out: Path, task: str = "posenav", agent: str = "oracle", **kwargs) -> BenchSettings:
    cfg = task_config(task)
    return BenchSettings(task=cfg, sim=task_sim_config(cfg), agent=agent, out=out, progress=False,
                         **{"num_episodes": 6, **kwargs})


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def test_bench_writes_records_and_summaries(tmp_path, backend):
    summary = run_bench(_settings(tmp_path / "run", backend=backend))
    out = tmp_path / "run"
    records = _records(out)
    assert [r["episode_id"] for r in records] == [str(i) for i in range(6)]
    assert json.loads((out / "summary.json").read_text()) == summary
    assert {"success", "spl", "soft_spl", "distance_to_goal", "num_episodes", "episodes_per_s", "steps_per_s"} <= set(summary)
    assert summary["num_episodes"] == 6 and summary["success"] == 1.0
    assert summary["spl"] == pytest.approx(np.mean([r["spl"] for r in records]))
    table = (out / "summary.md").read_text()
    assert table.startswith("| task | agent |") and "| posenav | oracle | val | 6 | 1.000 |" in table


def test_rerun_skips_finished_episodes(tmp_path):
    first = run_bench(_settings(tmp_path, num_episodes=3))
    again = run_bench(_settings(tmp_path, num_episodes=5))
    assert first["num_episodes"] == 3 and again["num_episodes"] == 5
    assert [r["episode_id"] for r in _records(tmp_path)] == ["0", "1", "2", "3", "4"]


def test_two_workers_give_the_same_results_as_one(tmp_path):
    one = run_bench(_settings(tmp_path / "one", task="objectnav"))
    two = run_bench(_settings(tmp_path / "two", task="objectnav", num_envs=2))
    assert {k: v for k, v in one.items() if k not in TIMING} == {k: v for k, v in two.items() if k not in TIMING}
    by_id = {r["episode_id"]: r for r in _records(tmp_path / "two")}
    assert sorted(by_id) == sorted(r["episode_id"] for r in _records(tmp_path / "one"))
    for record in _records(tmp_path / "one"):
        assert {k: v for k, v in by_id[record["episode_id"]].items() if k not in TIMING} == \
            {k: v for k, v in record.items() if k not in TIMING}


def _bench_command(out: Path, n: int) -> list[str]:
    return [sys.executable, "-m", "v4s.experiments.bench", "agent=oracle", "task=posenav", "split=val",
            f"num_episodes={n}", "num_envs=1", f"out={out}", "progress=false"]


def test_killed_run_resumes_to_the_same_summary(tmp_path):
    n = 20
    task = task_config("posenav")
    ensure_dataset(task, "val", n, task_sim_config(task), progress=False)  # both runs share the cached dataset
    env = dict(os.environ)
    whole = subprocess.run(_bench_command(tmp_path / "whole", n), env=env, capture_output=True, text=True,
                           timeout=600)
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen(_bench_command(out, n), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = out / "episodes.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 4:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(30)
    done_before = log.read_text().count("\n")
    assert 4 <= done_before < n, "the run finished before it could be killed"
    assert not (out / "summary.json").exists()

    resumed = subprocess.run(_bench_command(out, n), env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    ids = [r["episode_id"] for r in _records(out)]
    assert len(ids) == len(set(ids)) == n  # none duplicated, none lost
    a = json.loads((tmp_path / "whole" / "summary.json").read_text())
    b = json.loads((out / "summary.json").read_text())
    assert {k: v for k, v in a.items() if k not in TIMING} == {k: v for k, v in b.items() if k not in TIMING}


def test_torn_last_line_is_dropped_and_the_episode_reruns(tmp_path):
    run_bench(_settings(tmp_path, num_episodes=3))
    log = tmp_path / "episodes.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2]) + lines[2][:25])  # killed while writing the third record
    assert len(EpisodeLog(log)) == 2 and log.read_text() == "".join(lines[:2])
    summary = run_bench(_settings(tmp_path, num_episodes=3))
    assert summary["num_episodes"] == 3 and [r["episode_id"] for r in _records(tmp_path)] == ["0", "1", "2"]


def test_a_rerun_with_nothing_left_keeps_the_measured_speed(tmp_path):
    first = run_bench(_settings(tmp_path, num_episodes=2))
    assert first["episodes_per_s"] > 0
    again = run_bench(_settings(tmp_path, num_episodes=2))
    assert again == first


def test_a_broken_line_in_the_middle_is_named(tmp_path):
    log = tmp_path / "episodes.jsonl"
    log.write_text('{"episode_id": "0", "success": 1.0}\nnot json\n{"episode_id": "2", "success": 0.0}\n')
    with pytest.raises(RecordFileError, match="episodes.jsonl: line 2 is not an episode record"):
        EpisodeLog(log)


def test_videos_show_view_and_map(tmp_path):
    import imageio.v3 as iio

    run_bench(_settings(tmp_path, num_episodes=2, video=True))
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["0.mp4", "1.mp4"]
    frames = iio.imread(videos[0], index=None)
    steps = _records(tmp_path)[0]["num_steps"]
    assert abs(frames.shape[0] - steps) <= 1 and frames.shape[1] == 256  # a frame per step (mp4 may drop the last) and frames.shape[2] > 256 + 100


def test_bad_dataset_is_named(tmp_path):
    import gzip

    bad = tmp_path / "val.json.gz"
    with gzip.open(bad, "wt") as f:
        json.dump({"episodes": [{"episode_id": "0", "scene_id": "house-100000", "info": {"geodesic_distance": 2.0}}]}, f)
    with pytest.raises(EpisodeFileError, match=r"val.json.gz: episodes\[0\]: missing field 'start_position'"):
        run_bench(_settings(tmp_path / "out", dataset=bad))
    short = _settings(tmp_path / "out2", num_episodes=500)
    short.dataset = ensure_dataset(short.task, "val", 5, short.sim, progress=False)
    with pytest.raises(ValueError, match="num_episodes: .* holds 5 episodes, fewer than the 500 asked for"):
        run_bench(short)


def test_the_video_agent_runs_in_the_bench_with_its_figures(tmp_path):
    cfg = task_config({"name": "objectnav", "max_episode_steps": 10})
    settings = BenchSettings(task=cfg, sim=task_sim_config(cfg), agent="video", out=tmp_path / "run", progress=False,
                             num_episodes=2, video=True,
                             agent_kwargs={"num_candidates": 2, "num_inference_steps": 2, "replan_every": 4})
    with pytest.warns(UserWarning, match="resizes"):
        summary = run_bench(settings)
    for key in ("success", "spl", "soft_spl", "distance_to_goal", "plan_seconds", "episode_seconds",
                "plans_per_episode", "fallbacks"):
        assert summary[key] is not None, key
    assert summary["plans_per_episode"] >= 1 and summary["plan_seconds"] > 0
    for record in _records(tmp_path / "run"):
        assert record["plans"] >= 1 and record["episode_seconds"] > 0 and "fallbacks" in record
        assert (tmp_path / "run" / "videos" / f"{record['episode_id']}.mp4").stat().st_size > 0
    assert "| objectnav | video | val | 2 |" in (tmp_path / "run" / "summary.md").read_text()

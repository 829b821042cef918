"""v4s-bench prints only numbers it measured under the config it reports: resume checks the config,
one writer per out dir, bad episodes are named before the first one runs, summaries are strict JSON,
and videos stay in step with the log after a kill."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from v4s.envs.tasks.config import task_config
from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config
from v4s.experiments.bench import BenchSettings, run_bench, settings_from_config
from v4s.experiments.run_dir import RunConflictError
from v4s.fileio import TMP_GLOB


def strict_load(path: Path):
    """Python's json with NaN and Infinity refused, as strict parsers do."""
    def refuse(constant):
        raise ValueError(f"{path}: non-finite JSON constant {constant}")
    return json.loads(path.read_text(), parse_constant=refuse)


def _settings(out: Path, task: str = "posenav", agent: str = "oracle", **kwargs) -> BenchSettings:
    cfg = task_config(task)
    return BenchSettings(task=cfg, sim=task_sim_config(cfg), agent=agent, out=out, progress=False,
                         **{"num_episodes": 3, **kwargs})


def _ids(out: Path) -> list[str]:
    return [json.loads(line)["episode_id"] for line in (out / "episodes.jsonl").read_text().splitlines()]


def _compose(*overrides: str):
    with initialize_config_module(config_module="v4s.experiments.conf", version_base=None):
        return compose(config_name="bench", overrides=list(overrides))


def test_a_rerun_with_another_config_refuses_and_names_the_fields(tmp_path):
    out = tmp_path / "run"
    first = run_bench(settings_from_config(_compose("task=posenav", "agent=oracle", "num_episodes=3", f"out={out}",
                                                    "progress=false")))
    assert first["success"] == 1.0
    recorded = strict_load(out / "run.json")
    assert recorded["fingerprint"]["task"]["success_distance"] == 0.2 and recorded["config"]["num_episodes"] == 3

    for overrides, field in ((("task.success_distance=0.05",), "task.success_distance: 0.2 -> 0.05"),
                             (("agent=random",), "agent.name: 'oracle' -> 'random'"),
                             (("task=objectnav",), "task.name: 'posenav' -> 'objectnav'")):
        cfg = _compose("task=posenav", "agent=oracle", "num_episodes=3", f"out={out}", "progress=false", *overrides)
        with pytest.raises(RunConflictError, match="resume=false") as refused:
            run_bench(settings_from_config(cfg))
        assert field in str(refused.value)
    assert _ids(out) == ["0", "1", "2"] and strict_load(out / "summary.json") == first  # nothing was touched

    # what does not change results may differ: more workers, videos, more episodes
    again = run_bench(settings_from_config(_compose("task=posenav", "agent=oracle", "num_episodes=4", "num_envs=2",
                                                    f"out={out}", "progress=false")))
    assert again["num_episodes"] == 4 and _ids(out) == ["0", "1", "2", "3"]

    # resume=false starts afresh and keeps the old run beside it
    strict = _compose("task=posenav", "agent=oracle", "num_episodes=3", f"out={out}", "progress=false",
                      "task.success_distance=0.05", "resume=false")
    afresh = run_bench(settings_from_config(strict))
    fresh = run_bench(settings_from_config(_compose("task=posenav", "agent=oracle", "num_episodes=3",
                                                    f"out={tmp_path / 'fresh'}", "progress=false",
                                                    "task.success_distance=0.05")))
    assert {k: afresh[k] for k in ("success", "spl", "num_episodes")} == \
        {k: fresh[k] for k in ("success", "spl", "num_episodes")}
    kept = list(out.glob("replaced-*"))
    assert len(kept) == 1 and _ids(kept[0]) == ["0", "1", "2", "3"]
    assert strict_load(kept[0] / "run.json")["fingerprint"]["task"]["success_distance"] == 0.2
    assert strict_load(out / "run.json")["fingerprint"]["task"]["success_distance"] == 0.05


def test_a_log_without_a_run_record_is_not_resumed(tmp_path):
    run_bench(_settings(tmp_path))
    (tmp_path / "run.json").unlink()  # as a run of an older v4s left it
    with pytest.raises(RunConflictError, match="no run.json.*resume=false"):
        run_bench(_settings(tmp_path))


def _bench_command(out: Path, n: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "v4s.experiments.bench", "agent=oracle", "task=posenav", "split=val",
            f"num_episodes={n}", f"out={out}", "progress=false", *extra]


@pytest.fixture(scope="module")
def cached_posenav_val():
    """The val dataset every subprocess below shares (sampled once)."""
    task = task_config("posenav")
    return ensure_dataset(task, "val", 20, task_sim_config(task), progress=False)


def test_two_runs_on_one_out_dir_cannot_both_write(tmp_path, cached_posenav_val):
    out = tmp_path / "run"
    procs = [subprocess.Popen(_bench_command(out, 20), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(600), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(err for code, err in results if code != 0)
    winner = next(p for p, (code, _) in zip(procs, results) if code == 0)
    assert f"another v4s-bench (pid {winner.pid}) is writing this run" in loser
    ids = _ids(out)
    assert len(ids) == len(set(ids)) == 20


def test_an_out_dir_that_cannot_be_written_fails_before_the_first_episode(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="out=.*a-file/run: cannot write the run's out dir"):
        run_bench(_settings(blocker / "run"))


def _dataset_with(tmp_path: Path, edit) -> Path:
    """The first 3 val PoseNav episodes, written as a user's dataset file with ``edit`` applied to its json."""
    task = task_config("posenav")
    source = ensure_dataset(task, "val", 3, task_sim_config(task), progress=False)
    with gzip.open(source, "rt") as f:
        data = json.load(f)
    data["episodes"] = data["episodes"][:3]
    edit(data["episodes"])
    path = tmp_path / "mine.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump(data, f)
    return path


def test_unrunnable_episodes_are_named_before_the_first_one_runs(tmp_path):
    def break_two(episodes):
        episodes[1]["goals"][0]["position"] = [50.0, 0.0, 50.0]  # far outside the house
        episodes[2]["start_position"] = [50.0, 0.0, 50.0]

    dataset = _dataset_with(tmp_path, break_two)
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="2 of 3 episodes cannot run") as refused:
        run_bench(_settings(out, dataset=dataset))
    message = str(refused.value)
    assert "episodes[1] (episode_id '1'): no goal is reachable" in message
    assert "episodes[2] (episode_id '2'): start_position [50.0, 0.0, 50.0] is off the navigable area" in message
    assert "skip_invalid=true" in message
    assert not (out / "episodes.jsonl").exists()  # nothing ran

    # the refused run left no results, so the corrected dataset (another digest) runs in the same out dir
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    corrected = _dataset_with(fixed, lambda episodes: episodes.__delitem__(slice(1, None)))
    refused_out = tmp_path / "refused-then-fixed"
    with pytest.raises(ValueError, match="cannot run"):
        run_bench(_settings(refused_out, dataset=dataset))
    assert run_bench(_settings(refused_out, dataset=corrected, num_episodes=1))["num_episodes"] == 1

    summary = run_bench(_settings(out, dataset=dataset, skip_invalid=True))
    assert summary["num_episodes"] == 1 and _ids(out) == ["0"]
    assert [(s["index"], s["episode_id"]) for s in summary["skipped_invalid"]] == [(1, "1"), (2, "2")]
    assert strict_load(out / "summary.json") == summary


def test_every_summary_parses_as_strict_json(tmp_path):
    for task, agent in (("posenav", "random"), ("objectnav", "oracle")):
        run_bench(_settings(tmp_path / f"{task}-{agent}", task=task, agent=agent, num_episodes=2))
        summary = strict_load(tmp_path / f"{task}-{agent}" / "summary.json")
        assert summary["num_episodes"] == 2
        for line in (tmp_path / f"{task}-{agent}" / "episodes.jsonl").read_text().splitlines():
            json.loads(line, parse_constant=lambda c: pytest.fail(f"non-finite {c} in episodes.jsonl"))


def test_a_killed_video_run_resumes_to_one_mp4_per_logged_episode(tmp_path, cached_posenav_val):
    out = tmp_path / "run"
    n = 8
    proc = subprocess.Popen(_bench_command(out, n, "video=true"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log, videos = out / "episodes.jsonl", out / "videos"
    deadline, writing = time.time() + 300, False
    while time.time() < deadline and proc.poll() is None:
        lines = log.read_text().count("\n") if log.exists() else 0
        writing = videos.exists() and any(videos.glob(TMP_GLOB))
        if lines >= 1 and (writing or lines >= 3):  # best: while an mp4 is being written
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(30)
    logged = _ids(out)
    assert 1 <= len(logged) < n, "the run finished before it could be killed"

    resumed = subprocess.run(_bench_command(out, n, "video=true"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.stem for p in videos.glob("*.mp4")) == sorted(_ids(out)) and len(_ids(out)) == n
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_bad_values_are_named_up_front():
    cases = (("sim.turn_angle=abc", "sim.turn_angle must be a number, got 'abc'"),
             ("task.success_distance=-1", r"task.success_distance must be positive \(metres\), got -1"),
             ("task.max_episode_steps=0", "task.max_episode_steps must be at least 1, got 0"),
             ("split=tset", r"split must be one of \['train', 'val', 'test'\], got 'tset'"),
             ("video=maybe", "video must be true or false, got 'maybe'"),
             ("dataset=/nowhere/val.json.gz", "dataset: no episode file at /nowhere/val.json.gz"))
    for override, message in cases:
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            settings_from_config(_compose(override))


def test_the_video_agent_is_fingerprinted_by_its_checkpoints(tmp_path):
    settings = _settings(tmp_path, agent="video", agent_kwargs={"threads": 1})
    fingerprint = settings.fingerprint()["agent"]
    assert set(fingerprint["checkpoints"]) == {"checkpoint", "idm"}
    assert all(len(d) == 64 for d in fingerprint["checkpoints"].values())
    assert "threads" not in fingerprint["settings"] and fingerprint["settings"]["num_candidates"] == 4
    # a setting added later is left out at the value that does what the agent did before it, and counts otherwise
    assert "pose_instruction" not in fingerprint["settings"]
    by_goal = _settings(tmp_path, agent="video", agent_kwargs={"pose_instruction": "goal"}).fingerprint()["agent"]
    assert by_goal["settings"]["pose_instruction"] == "goal"
    geometric = _settings(tmp_path, agent="video", agent_kwargs={"extractor": "geometric"}).fingerprint()["agent"]
    assert set(geometric["checkpoints"]) == {"checkpoint"}
    # a setting only another task reads is left out: ObjectNav's STOP rule does not decide a PoseNav run
    votes = {"stop_votes": 2}
    assert _settings(tmp_path, agent="video", agent_kwargs=votes).fingerprint()["agent"] == fingerprint
    objectnav = _settings(tmp_path, task="objectnav", agent="video", agent_kwargs=votes).fingerprint()["agent"]
    assert objectnav["settings"]["stop_votes"] == 2 and "pose_instruction" not in objectnav["settings"]
    with pytest.raises(FileNotFoundError, match=f"agent.checkpoint: no checkpoint at {tmp_path / 'nowhere'}"):
        _settings(tmp_path, agent="video", agent_kwargs={"checkpoint": str(tmp_path / "nowhere")}).fingerprint()

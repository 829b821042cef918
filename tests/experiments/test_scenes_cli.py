"""The v4s-scenes command writes houses of a split and resumes where it stopped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import trimesh

from v4s.envs.scenes.semantic import load_semantic
from v4s.envs.scenes.spec import SPLIT_SEEDS, split_of_seed, split_scene_ids


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "v4s.experiments.scenes", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cli_writes_split_houses_and_resumes(tmp_path):
    out = tmp_path / "scenes"
    done = _run("split=test", "num=2", f"out={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ids = split_scene_ids("test", 2)
    assert ids == ["house-200000", "house-200001"]
    for scene_id in ids:
        glb = out / scene_id / f"{scene_id}.glb"
        meta = load_semantic(out / scene_id / f"{scene_id}.semantic.json")
        assert meta.scene_id == scene_id and meta.generator["seed"] == int(scene_id[-6:])
        assert len(trimesh.load(glb, force="scene").geometry) > 5
    stamp = (out / ids[0] / f"{ids[0]}.glb").stat().st_mtime_ns
    again = _run("split=test", "num=3", f"out={out}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (out / ids[0] / f"{ids[0]}.glb").stat().st_mtime_ns == stamp  # kept, not regenerated
    assert (out / "house-200002" / "house-200002.glb").is_file()
    assert not (tmp_path / "outputs").exists()  # hydra writes no run folders


def test_cli_rejects_an_unknown_split(tmp_path):
    bad = _run("split=holdout", "num=1", f"out={tmp_path}", cwd=tmp_path)
    assert bad.returncode != 0
    assert "unknown split 'holdout'" in bad.stderr


def test_split_seed_ranges_are_disjoint():
    ranges = sorted(SPLIT_SEEDS.values())
    for (a, na), (b, _) in zip(ranges[:-1], ranges[1:]):
        assert a + na <= b
    assert [split_of_seed(s) for s in (0, 99_999, 100_000, 200_999, 300_000)] == ["train", "train", "val", "test", None]

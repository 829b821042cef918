"""Your own scenes end to end: ``v4s-episodes scenes=[...]`` then ``v4s-bench agent=oracle dataset=...``, as a user
types them, on rooms each test writes; the oracle reaches success >= 0.99 on every one.

A room is a builder ``(folder) -> scene path``, the tasks it supports (ObjectNav needs semantics) and the
overrides it needs; more rooms join ``ROOMS``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import own_rooms
import pytest
from scene_fixtures import write_zup_room

#: small sensors and a short context tour keep each run to seconds
SMALL = ("sim.width=64", "sim.height=64", "task.context_frames=4")
NUM_EPISODES = 4
#: habitat-lab's own share of straight-line pairs kept (v4s keeps none by default): an open room has few others
HABITAT_RATIO_SAMPLE_RATE = "task.dataset.ratio_sample_rate=0.2"


@dataclass(frozen=True)
class Room:
    build: Callable[[Path], Path]  #: writes the room into a folder, returns the scene's path
    tasks: tuple[str, ...]
    overrides: tuple[str, ...] = ()  #: extra v4s-episodes settings the room needs
    needs: str | None = None  #: a module the room's files need (skipped, saying so, without it)


ROOMS: dict[str, Room] = {
    # z-up, in centimetres, with a stage_config.json; a partition and a labelled chair
    "zup_cm_room": Room(partial(write_zup_room, units_per_metre=100.0), ("objectnav", "posenav")),
    # floor of 2 triangles, desk clutter of thousands
    "cluttered_room": Room(own_rooms.write_cluttered_room, ("posenav",), (HABITAT_RATIO_SAMPLE_RATE,)),
    "two_storey_building": Room(own_rooms.write_two_storey_building, ("posenav",)),
    "float_colour_room": Room(own_rooms.write_float_colour_room, ("posenav",), (HABITAT_RATIO_SAMPLE_RATE,)),
    "vec3_colour_room": Room(own_rooms.write_vec3_colour_room, ("posenav",), (HABITAT_RATIO_SAMPLE_RATE,)),
    "draco_room": Room(own_rooms.write_draco_room, ("posenav",), (HABITAT_RATIO_SAMPLE_RATE,), needs="DracoPy"),
    # HM3D's semantic pair (room.semantic.glb + .semantic.txt), no semantic.json
    "hm3d_room": Room(own_rooms.write_hm3d_exported_room, ("objectnav",), (HABITAT_RATIO_SAMPLE_RATE,)),
}


def _case(room: str, task: str):
    needs = ROOMS[room].needs
    missing = needs is not None and importlib.util.find_spec(needs) is None
    return pytest.param(room, task, id=f"{room}-{task}", marks=pytest.mark.skipif(
        missing, reason=f"{needs} is not installed (pip install 'v4s[draco]'); it writes and decodes this room"))


CASES = [_case(room, task) for room, spec in ROOMS.items() for task in spec.tasks]


def _cli(app: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", f"v4s.experiments.{app}", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"v4s-{app} {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("room, task", CASES)
def test_episodes_then_the_oracle_on_your_room(tmp_path, room, task):
    scene = ROOMS[room].build(tmp_path / "scenes")
    _cli("episodes", f"task={task}", f"scenes=[{scene}]", "split=mine", f"num_episodes={NUM_EPISODES}",
         f"out={tmp_path / 'datasets'}", *SMALL, *ROOMS[room].overrides, cwd=tmp_path)
    dataset = tmp_path / "datasets" / "mine.json.gz"
    _cli("bench", "agent=oracle", f"task={task}", f"dataset={dataset}", "split=mine", f"num_episodes={NUM_EPISODES}",
         f"out={tmp_path / 'run'}", "progress=false", *SMALL, cwd=tmp_path)
    summary = _summary(tmp_path / "run")
    assert summary["split"] == "mine" and summary["num_episodes"] == NUM_EPISODES
    assert summary["success"] >= 0.99, summary


def test_habitat_lab_layout_with_relative_scene_ids(tmp_path):
    """Per-scene content/ files, basename-keyed goals and scene ids relative to sim.scenes_dir, written by
    v4s-episodes and run by v4s-bench from another working directory."""
    scenes_dir = tmp_path / "scene_datasets"
    for name in ("zup_room", "zup_room_b"):
        write_zup_room(scenes_dir / "rooms", name=name)
    out = tmp_path / "datasets" / "objectnav" / "mine"
    _cli("episodes", "task=objectnav", "scenes=[rooms/zup_room.glb,rooms/zup_room_b.glb]", "split=mine",
         f"num_episodes={NUM_EPISODES}", f"out={out}", "layout=content", f"sim.scenes_dir={scenes_dir}", *SMALL,
         cwd=tmp_path)
    assert sorted(p.name for p in (out / "content").iterdir()) == ["zup_room.json.gz", "zup_room_b.json.gz"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _cli("bench", "agent=oracle", "task=objectnav", f"dataset={out / 'mine.json.gz'}", "split=mine",
         f"num_episodes={NUM_EPISODES}", f"out={tmp_path / 'run'}", "progress=false", f"sim.scenes_dir={scenes_dir}",
         *SMALL, cwd=elsewhere)
    summary = _summary(tmp_path / "run")
    assert summary["num_episodes"] == NUM_EPISODES and summary["success"] >= 0.99, summary
    records = [json.loads(line) for line in (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()]
    assert {r["scene_id"] for r in records} == {"rooms/zup_room.glb", "rooms/zup_room_b.glb"}


def test_objectnav_on_a_room_without_semantics_says_so(tmp_path):
    scene = write_zup_room(tmp_path / "scenes")
    scene.with_name("zup_room.semantic.json").unlink()
    done = subprocess.run([sys.executable, "-m", "v4s.experiments.episodes", "task=objectnav", f"scenes=[{scene}]",
                           "split=mine", "num_episodes=2", f"out={tmp_path}", *SMALL], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "ObjectNav needs object semantics" in done.stderr and "zup_room.semantic.json" in done.stderr
    assert not (tmp_path / "mine.json.gz").exists()

"""Episode datasets: habitat-lab's layout and sampling rules, and errors that name the field."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from v4s.envs.scenes.spec import SceneNotFoundError
from v4s.envs.sim import make_sim
from v4s.envs.sim.base import quaternion_to_yaw
from v4s.envs.tasks.config import task_config
from v4s.envs.tasks.dataset import ensure_dataset, generate_dataset, task_sim_config
from v4s.envs.tasks.episodes import EpisodeFileError, load_dataset


@pytest.fixture(scope="module")
def datasets():
    """One val house's episodes of each task, written to the (session) cache."""
    out = {}
    for name in ("objectnav", "posenav"):
        task = task_config(name)
        out[name] = ensure_dataset(task, "val", 5, task_sim_config(task), progress=False)
    return out


def _raw(path):
    with gzip.open(path, "rt") as f:
        return json.load(f)


def test_files_follow_habitat_lab_layout(datasets):
    objectnav = _raw(datasets["objectnav"])
    assert {"category_to_task_category_id", "goals_by_category", "episodes"} <= set(objectnav)
    ep = objectnav["episodes"][0]
    assert {"episode_id", "scene_id", "start_position", "start_rotation", "info", "goals", "object_category"} <= set(ep)
    assert ep["goals"] == [] and "geodesic_distance" in ep["info"]
    goals = objectnav["goals_by_category"][f"{ep['scene_id']}_{ep['object_category']}"]
    assert {"position", "object_id", "object_category", "view_points"} <= set(goals[0])
    assert {"position", "rotation"} <= set(goals[0]["view_points"][0]["agent_state"])
    posenav = _raw(datasets["posenav"])
    ep = posenav["episodes"][0]
    assert set(ep["goals"][0]) >= {"position", "radius", "rotation"}
    assert len(ep["start_rotation"]) == 4 and "relative_position" in ep["instruction"]


@pytest.mark.parametrize("name", ["objectnav", "posenav"])
def test_sampling_rules_hold(datasets, name):
    task = task_config(name)
    rules = task.dataset
    dataset = load_dataset(datasets[name], name)
    assert len(dataset.episodes) >= 5
    sim = make_sim("embedded", task_sim_config(task))
    try:
        for ep in dataset.episodes:
            sim.load_scene(ep.scene_id)
            pf = sim.pathfinder
            start = np.asarray(ep.start_position)
            targets = ep.goal_positions
            geodesic = pf.geodesic_distance(start, targets)
            assert geodesic == pytest.approx(ep.info["geodesic_distance"], abs=1e-3)
            assert rules.min_geodesic <= geodesic <= rules.max_geodesic
            nearest = targets[np.argmin([pf.geodesic_distance(start, t) for t in targets])]
            assert geodesic / np.linalg.norm(nearest - start) >= rules.min_geodesic_to_euclid_ratio
            assert abs(nearest[1] - start[1]) <= rules.max_floor_difference
            assert pf.is_navigable(start) and pf.island_radius(start) >= rules.min_island_radius
            quaternion_to_yaw(ep.start_rotation)  # a yaw-only unit quaternion
            if name == "objectnav":
                assert ep.object_category in task.categories
                assert all(g.object_category == ep.object_category for g in ep.goals)
                assert ep.object_category.replace("tv_monitor", "TV") in ep.instruction_text
    finally:
        sim.close()


def test_generation_is_deterministic():
    task = task_config("posenav")
    a = generate_dataset(task, "val", 1, progress=False).to_json()
    b = generate_dataset(task, "val", 1, progress=False).to_json()
    assert a == b


def _edit(path, tmp_path, change) -> str:
    data = _raw(path)
    change(data)
    out = tmp_path / "edited.json.gz"
    with gzip.open(out, "wt") as f:
        json.dump(data, f)
    return out


def test_missing_field_is_named(datasets, tmp_path):
    bad = _edit(datasets["posenav"], tmp_path, lambda d: d["episodes"][2].pop("start_rotation"))
    with pytest.raises(EpisodeFileError, match=r"edited.json.gz: episodes\[2\]: missing field 'start_rotation'"):
        load_dataset(bad)


def test_bad_values_are_named(datasets, tmp_path):
    bad = _edit(datasets["posenav"], tmp_path, lambda d: d["episodes"][1].update(start_position=[0, "up", 1]))
    with pytest.raises(EpisodeFileError, match=r"episodes\[1\].start_position: expected 3 numbers"):
        load_dataset(bad)
    bad = _edit(datasets["posenav"], tmp_path, lambda d: d["episodes"][0].update(start_rotation=[0, 0, 0, 2]))
    with pytest.raises(EpisodeFileError, match=r"episodes\[0\].start_rotation: expected a unit quaternion"):
        load_dataset(bad)


def test_unknown_category_is_named(datasets, tmp_path):
    bad = _edit(datasets["objectnav"], tmp_path, lambda d: d["episodes"][0].update(object_category="guitar"))
    with pytest.raises(EpisodeFileError, match=r"episodes\[0\].object_category: unknown category 'guitar'"):
        load_dataset(bad)


def test_scene_that_does_not_exist(datasets, tmp_path):
    bad = _edit(datasets["posenav"], tmp_path, lambda d: d["episodes"][3].update(scene_id="house-999999"))
    with pytest.raises(EpisodeFileError, match=r"episodes\[3\].scene_id: .*house-999999"):
        load_dataset(bad)
    bad = _edit(datasets["posenav"], tmp_path, lambda d: d["episodes"][3].update(scene_id="/data/hm3d/nowhere.glb"))
    with pytest.raises(EpisodeFileError, match=r"episodes\[3\].scene_id: scene file not found: /data/hm3d/nowhere.glb"):
        load_dataset(bad)


def test_unreadable_file(tmp_path):
    path = tmp_path / "val.json.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(EpisodeFileError, match="val.json.gz: cannot read episodes"):
        load_dataset(path)
    with pytest.raises(FileNotFoundError, match="missing.json.gz"):
        load_dataset(tmp_path / "missing.json.gz")
    assert issubclass(SceneNotFoundError, FileNotFoundError)

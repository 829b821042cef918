"""Bad input gets a clear error naming the file or field; closing frees what the simulator made."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from conftest import HOUSE_ID

from v4s.envs.scenes.mesh import SceneFileError
from v4s.envs.scenes.semantic import SemanticFileError
from v4s.envs.scenes.spec import SceneNotFoundError, resolve_scene
from v4s.envs.sim import InvalidActionError, NotNavigableError, SimConfig, make_sim
from v4s.envs.sim.base import yaw_to_quaternion


@pytest.fixture
def embedded():
    sim = make_sim("embedded")
    yield sim
    sim.close()


def _copy_house(tmp_path):
    spec = resolve_scene(HOUSE_ID)
    glb = tmp_path / "house.glb"
    semantic = tmp_path / "house.semantic.json"
    shutil.copy(spec.glb, glb)
    shutil.copy(spec.semantic, semantic)
    return glb, semantic


def test_missing_glb_names_the_file(embedded, tmp_path):
    missing = tmp_path / "nowhere.glb"
    with pytest.raises(FileNotFoundError, match="nowhere.glb"):
        embedded.load_scene(missing)


def test_unknown_scene_id_is_explained(embedded):
    with pytest.raises(SceneNotFoundError, match="house-NNNNNN"):
        embedded.load_scene("kitchen")
    with pytest.raises(SceneNotFoundError, match="split ranges"):
        embedded.load_scene("house-999999")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bad_json"])
def test_corrupt_glb_names_the_file(embedded, tmp_path, damage):
    glb, _ = _copy_house(tmp_path)
    data = glb.read_bytes()
    if damage == "garbage":
        glb.write_bytes(b"this is not a glb file at all" * 10)
    elif damage == "truncated":
        glb.write_bytes(data[: len(data) // 3])
    else:
        glb.write_bytes(data[:20] + b"{{{{" + data[24:])
    with pytest.raises(SceneFileError, match="house.glb"):
        embedded.load_scene(glb)


def test_semantic_json_that_names_a_missing_node(embedded, tmp_path):
    glb, semantic = _copy_house(tmp_path)
    data = json.loads(semantic.read_text())
    data["objects"][2]["node"] = "object_9999_ghost"
    semantic.write_text(json.dumps(data))
    with pytest.raises(SemanticFileError, match=r"house.semantic.json: objects\[2\].*node.*object_9999_ghost"):
        embedded.load_scene(glb)


def test_semantic_json_with_a_wrong_aabb(embedded, tmp_path):
    glb, semantic = _copy_house(tmp_path)
    data = json.loads(semantic.read_text())
    data["objects"][0]["aabb"][1][0] += 0.5
    semantic.write_text(json.dumps(data))
    with pytest.raises(SemanticFileError, match=r"objects\[0\].*\.aabb.*off by 0.5"):
        embedded.load_scene(glb)


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["objects"][1].pop("category"), r"objects\[1\] \(id \d+\): missing field 'category'"),
    (lambda d: d["objects"][1].update(id=0), r"objects\[1\].id: object ids start at 1"),
    (lambda d: d["objects"][1].update(id=d["objects"][0]["id"]), r"objects\[1\].id: duplicate"),
    (lambda d: d.update(format="v9"), "field 'format'"),
])
def test_semantic_json_field_errors(embedded, tmp_path, edit, field):
    glb, semantic = _copy_house(tmp_path)
    data = json.loads(semantic.read_text())
    edit(data)
    semantic.write_text(json.dumps(data))
    with pytest.raises(SemanticFileError, match=field):
        embedded.load_scene(glb)


def test_semantic_json_that_is_not_json(embedded, tmp_path):
    glb, semantic = _copy_house(tmp_path)
    semantic.write_text("{ not json")
    with pytest.raises(SemanticFileError, match="house.semantic.json: not valid json"):
        embedded.load_scene(glb)


def test_unknown_action_lists_the_valid_ones(embedded):
    embedded.load_scene(HOUSE_ID)
    with pytest.raises(InvalidActionError, match=r"'jump'.*\['move_forward', 'turn_left', 'turn_right'\]"):
        embedded.step("jump")


def test_agent_off_the_navigable_area(embedded):
    embedded.load_scene(HOUSE_ID)
    before = embedded.agent_state.position
    with pytest.raises(NotNavigableError, match=r"position \[50.0, 0.0, 50.0\] is not on the navigable area"):
        embedded.set_agent_state([50.0, 0.0, 50.0])
    with pytest.raises(NotNavigableError, match="nearest navigable point"):
        embedded.set_agent_state(embedded.objects[0].center * [1, 0, 1])
    with pytest.raises(ValueError, match="only rotates about"):
        embedded.set_agent_state(before, [math.sin(0.2), 0.0, 0.0, math.cos(0.2)])
    np.testing.assert_array_equal(embedded.agent_state.position, before)  # a refused placement moves nothing


def test_bad_config_fields():
    with pytest.raises(ValueError, match=r"sim.sensors: unknown sensor\(s\) \['thermal'\]"):
        SimConfig(sensors=("rgb", "thermal"))
    with pytest.raises(ValueError, match=r"sim: unknown field\(s\) \['resolution'\]"):
        SimConfig.from_mapping({"resolution": 64})
    with pytest.raises(ValueError, match="sim.backend: unknown backend 'unity'"):
        make_sim("unity")


def test_using_a_closed_or_empty_simulator(tmp_path):
    sim = make_sim("embedded")
    with pytest.raises(RuntimeError, match="no scene loaded"):
        sim.observe()
    sim.close()
    sim.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        sim.load_scene(HOUSE_ID)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_create_and_close_100_times_leaks_nothing():
    from v4s.envs.sim import gl

    config = SimConfig(width=64, height=64)
    contexts, samples = set(), []
    for i in range(100):
        sim = make_sim("embedded", config)
        sim.load_scene(HOUSE_ID)
        sim.set_agent_state(sim.agent_state.position, yaw_to_quaternion(0.1 * i))
        sim.step("turn_left")
        renderer = sim._renderer
        contexts.add(id(gl.get_context()))
        sim.close()
        assert renderer._objects == []  # every buffer, texture, program and framebuffer released
        if i in (9, 99):
            samples.append(_rss_mb())
    assert len(contexts) == 1  # one GL context for the whole process, not one per simulator
    assert samples[1] - samples[0] < 8.0, f"RSS grew {samples[1] - samples[0]:.1f} MB over 90 cycles"

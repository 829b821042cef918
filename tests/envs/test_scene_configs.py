"""Scene configs the habitat way: a GLB's stage_config.json sets its frame and scale, sim.scenes_dir resolves
relative scene ids, and a z-up room runs in NavEnv."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scene_fixtures import CHAIR_CENTER, PARTITIONED_HALF, write_box_room, write_zup_room

from v4s.envs.nav_env import NavEnv
from v4s.envs.scenes.spec import SceneConfigError, SceneNotFoundError, SceneSpec, resolve_scene
from v4s.envs.sim import SimConfig, make_sim
from v4s.envs.tasks.config import task_config
from v4s.envs.tasks.dataset import generate_scene_dataset
from v4s.typed_config import ConfigError

SMALL = {"width": 64, "height": 64}


@pytest.fixture(scope="module")
def zup_room(tmp_path_factory):
    return write_zup_room(tmp_path_factory.mktemp("rooms") / "rooms")


def _stage(glb, **fields):
    path = glb.with_name(glb.name[: -len(".glb")] + ".stage_config.json")
    path.write_text(json.dumps({"render_asset": glb.name, **fields}))
    return path


def test_stage_config_sets_the_frame_and_scale(tmp_path):
    glb, _ = write_box_room(tmp_path)
    _stage(glb, up=[0, 0, 1], front=[0, 1, 0], scale=[0.01, 0.01, 0.01], collision_asset=glb.name)
    spec = resolve_scene(glb)
    assert (spec.up, spec.front, spec.scale) == ((0, 0, 1), (0, 1, 0), (0.01, 0.01, 0.01))
    assert spec.collision is None and spec.semantic is not None  # the render mesh collides; semantics still found
    to_world = spec.world_transform
    # the asset's up (+z) becomes +y, its front (+y) becomes -z, its right (+x) stays +x; 100 units are a metre
    np.testing.assert_allclose(to_world[:3, :3] @ [0, 0, 100], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(to_world[:3, :3] @ [0, 100, 0], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(to_world[:3, :3] @ [100, 0, 0], [1, 0, 0], atol=1e-12)
    # without a stage config: glTF's frame
    glb.with_name("box_room.stage_config.json").unlink()
    plain = resolve_scene(glb)
    assert (plain.up, plain.front, plain.scale) == ((0, 1, 0), (0, 0, -1), (1, 1, 1))
    np.testing.assert_allclose(plain.world_transform, np.eye(4))


def test_a_stage_config_can_be_the_scene(tmp_path):
    glb, _ = write_box_room(tmp_path / "meshes")
    config = tmp_path / "configs" / "kitchen.stage_config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"render_asset": "../meshes/box_room.glb", "up": [0, 0, 1], "front": [0, 1, 0]}))
    spec = resolve_scene(config)
    assert spec.scene_id == "kitchen" and spec.glb.resolve() == glb.resolve() and spec.up == (0, 0, 1)


@pytest.mark.parametrize("fields, message", [
    ({"up": [0, 0, 1]}, r"'up' and 'front' go together.*add front"),
    ({"up": [0, 0, 1], "front": [0, 0.5, 1]}, r"must be orthogonal"),
    ({"up": [0, 1, 0], "front": [0, 0, -1], "scale": [1, 0, 1]}, r"scale must be positive"),
    ({"scale": "big"}, r"stage_config.json: scale: expected 3 numbers"),
    ({"origin": [0, 1.5, 0]}, r"stage_config.json: origin \[0, 1.5, 0\] is not supported"),
    ({"render_asset": "other.glb"}, r"render_asset names .*other.glb, not .*box_room.glb"),
    ({"collision_asset": "missing.glb"}, r"collision_asset: file not found: .*missing.glb"),
])
def test_stage_config_errors_name_the_file_and_field(tmp_path, fields, message):
    glb, _ = write_box_room(tmp_path)
    (tmp_path / "other.glb").write_bytes(glb.read_bytes())
    _stage(glb, **fields)
    with pytest.raises((SceneConfigError, SceneNotFoundError), match=message):
        resolve_scene(glb)


def test_unreadable_stage_config(tmp_path):
    glb, _ = write_box_room(tmp_path)
    glb.with_name("box_room.stage_config.json").write_text("{ not json")
    with pytest.raises(SceneConfigError, match=r"box_room.stage_config.json: cannot read the stage config"):
        resolve_scene(glb)
    with pytest.raises(SceneConfigError, match=r"scene 'x': up \[0.0, 0.0, 1.0\] and front .* must be orthogonal"):
        SceneSpec("x", glb, up=(0, 0, 1))


def test_scenes_dir_resolves_relative_scene_ids(zup_room, monkeypatch, tmp_path):
    root = zup_room.parent.parent
    for name in ("rooms/zup_room.glb", "data/scene_datasets/rooms/zup_room.glb"):  # habitat-lab drops the prefix
        assert resolve_scene(name, scenes_dir=root).glb == root / "rooms" / "zup_room.glb"
    assert resolve_scene(str(zup_room), scenes_dir=tmp_path).glb == zup_room  # absolute paths ignore it
    with pytest.raises(SceneNotFoundError, match=r"scene file not found: .*nowhere.glb \(scene 'nowhere.glb' under "
                                                 r"sim.scenes_dir="):
        resolve_scene("nowhere.glb", scenes_dir=root)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SceneNotFoundError, match=r"relative to the working directory; set sim.scenes_dir"):
        resolve_scene("rooms/zup_room.glb")
    assert SimConfig.from_mapping({"scenes_dir": str(root)}).scenes_dir == str(root)
    with pytest.raises(ConfigError, match=r"sim.scenes_dir must be a string or null, got 3"):
        SimConfig.from_mapping({"scenes_dir": 3})


@pytest.mark.parametrize("units_per_metre", [1.0, 100.0])
def test_zup_room_stands_upright(tmp_path, units_per_metre):
    """The z-up file (in metres, or in centimetres with scale 0.01), read through its stage config: floor at y = 0,
    the room's footprint navigable, the chair where it stands, and walking stays on the floor."""
    glb = write_zup_room(tmp_path, units_per_metre=units_per_metre)
    sim = make_sim("embedded", SimConfig(**SMALL))
    try:
        sim.load_scene(resolve_scene(glb))
        pathfinder = sim.pathfinder
        lo, hi = pathfinder.get_bounds()
        hx, hz = PARTITIONED_HALF
        assert hi[0] - lo[0] == pytest.approx(2 * (hx - 0.18), abs=0.1)  # x spans the room less the agent radius
        assert hi[2] - lo[2] == pytest.approx(2 * (hz - 0.18), abs=0.1)
        assert abs(float(lo[1])) < 0.05 and abs(float(hi[1])) < 0.05
        # the room less the radius margins, the partition and the chair: about 18.6 m^2
        assert 17.0 < pathfinder.navigable_area < 20.5
        # the chair: id 3, labelled where the GLB puts it after the frame change
        assert [(o.id, o.category) for o in sim.objects] == [(3, "chair")]
        np.testing.assert_allclose(sim.objects[0].center, CHAIR_CENTER, atol=1e-5)
        sim.set_agent_state([-2.0, 0.0, 0.5])
        for _ in range(4):
            sim.step("move_forward")
        assert sim.agent_state.position[1] == pytest.approx(0.0, abs=0.05)
        assert sim.agent_state.position[2] == pytest.approx(-0.5, abs=1e-6)  # 1 m walked towards -z
    finally:
        sim.close()


def test_zup_room_runs_in_nav_env(zup_room, tmp_path):
    """A dataset on the z-up room, with a relative scene id, runs in NavEnv given sim.scenes_dir."""
    root = zup_room.parent.parent
    task = task_config({"name": "objectnav", "context_frames": 4})
    dataset = generate_scene_dataset(task, ["rooms/zup_room.glb"], 2, sim_overrides={**SMALL, "scenes_dir": str(root)},
                                     progress=False)
    path = dataset.save(tmp_path / "mine.json.gz")
    env = NavEnv(task, dataset=path, sim={**SMALL, "scenes_dir": str(root)})
    try:
        obs, info = env.reset(options={"episode_id": "0"})
        assert info["scene_id"] == "rooms/zup_room.glb" and info["object_category"] == "chair"
        assert info["context"].shape == (4, 64, 64, 3) and info["context"].std() > 5  # the room itself, not an empty frame
        assert info["distance_to_goal"] == pytest.approx(dataset.episodes[0].info["geodesic_distance"], abs=0.05)
        _, _, _, _, step = env.step(1)
        assert step["position"][1] == pytest.approx(0.0, abs=0.05)
    finally:
        env.close()


def test_objectnav_needs_semantics(zup_room, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for suffix in (".glb", ".stage_config.json"):
        shutil.copy(zup_room.with_name("zup_room" + suffix), bare / f"zup_room{suffix}")
    with pytest.raises(ValueError, match=r"scenes\[0\] '.*zup_room.glb': ObjectNav needs object semantics, and "
                                         r".*zup_room.glb has none: put zup_room.semantic.json beside it"):
        generate_scene_dataset(task_config("objectnav"), [str(bare / "zup_room.glb")], 2, sim_overrides=SMALL,
                               progress=False)
    posenav = generate_scene_dataset(task_config("posenav"), [str(bare / "zup_room.glb")], 2, sim_overrides=SMALL,
                                     progress=False)
    assert len(posenav.episodes) == 2


def test_a_missing_scene_is_named(zup_room):
    with pytest.raises(SceneNotFoundError, match=r"scenes\[1\]: scene file not found: .*rooms/nowhere.glb"):
        generate_scene_dataset(task_config("posenav"), [str(zup_room), str(zup_room.with_name("nowhere.glb"))], 2,
                               sim_overrides=SMALL, progress=False)


def test_a_scene_short_of_episodes_is_named(zup_room):
    task = task_config({"name": "posenav", "dataset": {"min_geodesic": 20.0, "max_tries": 20}})
    with pytest.raises(ValueError, match=r"(?s)scenes\[0\] '.*zup_room.glb': 0 of 3 episodes \(no more start/goal pairs "
                                         r"pass task.dataset's rules\).*relax task.dataset's rules"):
        generate_scene_dataset(task, [str(zup_room)], 3, sim_overrides=SMALL, progress=False)

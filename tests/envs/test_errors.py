"""Clear errors for a user of the env: bad reset options, a closed env, a mistyped semantic json field,
and a GLB the agent cannot stand in. Each message names the argument, file or field, and the fix."""

from __future__ import annotations

import json

import pytest
import trimesh
from scene_fixtures import write_box_room

from v4s.envs.nav_env import NavEnv
from v4s.envs.scenes.mesh import SceneFileError
from v4s.envs.scenes.semantic import SemanticFileError
from v4s.envs.sim import make_sim
from v4s.envs.sim.base import yaw_to_quaternion
from v4s.envs.tasks.episodes import EpisodeDataset, NavigationEpisode, PoseGoal


@pytest.fixture
def embedded():
    sim = make_sim("embedded")
    yield sim
    sim.close()


def _box_room_env(tmp_path) -> NavEnv:
    """A PoseNav env over one hand-made episode ("hand") in a box room, all written into ``tmp_path``."""
    glb, _ = write_box_room(tmp_path / "scene")
    episode = NavigationEpisode(
        episode_id="hand", scene_id=str(glb), start_position=[0.0, 0.0, 1.0],
        start_rotation=yaw_to_quaternion(0.0).tolist(),
        goals=[PoseGoal(position=[0.0, 0.0, -1.0], rotation=yaw_to_quaternion(0.0).tolist())],
        info={"geodesic_distance": 2.0}, instruction={"instruction_text": "Move 2.0 m forward."})
    path = EpisodeDataset(task="posenav", episodes=[episode]).save(tmp_path / "val.json.gz")
    return NavEnv("posenav", dataset=path, sim={"width": 64, "height": 64})


# ---------------------------------------------------------------- reset options
@pytest.mark.parametrize("options", [[1, 2], "hand"], ids=["list", "str"])
def test_reset_options_that_are_not_a_dict(tmp_path, options):
    env = _box_room_env(tmp_path)
    with pytest.raises(TypeError, match=r"reset\(options=\.\.\.\) must be a dict .*the keys it accepts are "
                                        r"\['episode_id'\]"):
        env.reset(options=options)
    env.close()


# ---------------------------------------------------------------- closed env and simulator
def test_step_and_reset_after_close_say_the_env_is_closed(tmp_path):
    env = _box_room_env(tmp_path)
    env.reset(options={"episode_id": "hand"})
    env.close()
    env.close()  # idempotent
    with pytest.raises(RuntimeError, match=r"this NavEnv is closed: make a new env"):
        env.step(1)
    with pytest.raises(RuntimeError, match=r"this NavEnv is closed: make a new env"):
        env.reset(options={"episode_id": "hand"})


def test_step_after_close_of_an_ended_episode_says_closed_not_reset(tmp_path):
    env = _box_room_env(tmp_path)
    env.reset(options={"episode_id": "hand"})
    env.step(0)  # STOP ends the episode
    env.close()
    with pytest.raises(RuntimeError, match=r"this NavEnv is closed: make a new env"):
        env.step(1)


def test_closed_simulator_says_to_make_a_new_one(tmp_path):
    glb, _ = write_box_room(tmp_path)
    sim = make_sim("embedded")
    sim.load_scene(glb)
    sim.close()
    with pytest.raises(RuntimeError, match=r"this EmbeddedSim is closed: make a new simulator with make_sim\(\)"):
        sim.step("move_forward")


# ---------------------------------------------------------------- semantic json field types
@pytest.mark.parametrize("edit, message", [
    (lambda d: d["objects"][0].update(room="kitchen"),
     r"box_room\.semantic\.json: objects\[0\] \(id 7\)\.room: expected an integer, got 'kitchen'; "
     r"set it to the id of the object's room in 'rooms' \(an integer, e\.g\. 0\), or -1 for none"),
    (lambda d: d["objects"][0].update(node=7),
     r"box_room\.semantic\.json: objects\[0\] \(id 7\)\.node: expected a string, got 7; set it to the name"),
    (lambda d: d["objects"][0].update(category=None),
     r"box_room\.semantic\.json: objects\[0\] \(id 7\)\.category: expected a string, got None; "
     r"set it to a category name"),
    (lambda d: d["objects"][0].update(id="7"),
     r"box_room\.semantic\.json: objects\[0\]\.id: expected an integer, got '7'; set it to an integer >= 1"),
    (lambda d: d.update(floor_height="0"),
     r"box_room\.semantic\.json: floor_height: expected a number, got '0'; set it to the height of the floor"),
    (lambda d: d.update(rooms="living_room"),
     r"box_room\.semantic\.json: rooms: expected a list, got 'living_room'"),
    (lambda d: d.update(rooms=[{"id": "0", "type": "kitchen", "aabb": [[0, 0, 0], [1, 1, 1]]}]),
     r"box_room\.semantic\.json: rooms\[0\]\.id: expected an integer, got '0'"),
], ids=["room", "node", "category", "id", "floor_height", "rooms", "room_id"])
def test_semantic_json_field_of_the_wrong_type(embedded, tmp_path, edit, message):
    glb, semantic = write_box_room(tmp_path)
    data = json.loads(semantic.read_text())
    edit(data)
    semantic.write_text(json.dumps(data))
    with pytest.raises(SemanticFileError, match=message):
        embedded.load_scene(glb)


# ---------------------------------------------------------------- a GLB without floor
def test_wall_only_glb_names_the_file_and_what_to_check(embedded, tmp_path):
    wall = trimesh.Trimesh(vertices=[[-2, 0, 0], [2, 0, 0], [2, 2.5, 0], [-2, 2.5, 0]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    glb = tmp_path / "wall.glb"
    glb.write_bytes(trimesh.Scene(wall).export(file_type="glb"))
    with pytest.raises(SceneFileError, match=r"wall\.glb: no navigable area for an agent of radius 0\.18 m .*"
                                             r"no walkable floor.*Check the up axis.*and the scale"):
        embedded.load_scene(glb)


def test_floor_too_narrow_for_the_agent_names_the_file(embedded, tmp_path):
    # a free-standing 0.1 m thick wall: its top is walkable, but nowhere 0.18 m from an edge
    box = trimesh.creation.box([0.1, 2.5, 4.0]).apply_translation([0.0, 1.25, 0.0])
    glb = tmp_path / "wall_box.glb"
    glb.write_bytes(trimesh.Scene(box).export(file_type="glb"))
    with pytest.raises(SceneFileError, match=r"wall_box\.glb: no navigable area .*has no spot 0\.18 m from every "
                                             r"wall and floor edge.*Check the up axis.*and the scale"):
        embedded.load_scene(glb)

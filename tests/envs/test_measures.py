"""Measures against hand-computed episodes: the formulas alone, then whole episodes in the box room."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scene_fixtures import BLOCK_CENTER

from v4s.envs.nav_env import NavEnv
from v4s.envs.sim.base import yaw_to_quaternion
from v4s.envs.tasks.episodes import EpisodeDataset, NavigationEpisode, ObjectGoal, PoseGoal, ViewPoint
from v4s.envs.tasks.measures import Measures, StepState

FORWARD, LEFT, RIGHT, STOP = 1, 2, 3, 0


def _run_measures(path: list[tuple[float, float]], goal: tuple[float, float], stop_at_end: bool = True,
                  success_distance: float = 0.2) -> dict[str, float]:
    """Feed a polyline of positions (x, z) through the measures; the goal distance is Euclidean here."""
    goal_point = np.array([goal[0], 0.0, goal[1]])
    distance = lambda p: float(np.linalg.norm(np.asarray(p) - goal_point))  # noqa: E731
    measures = Measures(success_distance)
    points = [np.array([x, 0.0, z]) for x, z in path]
    metrics = measures.reset(StepState(position=points[0], distance_to_goal=distance))
    for i, p in enumerate(points[1:], start=1):
        last = i == len(points) - 1
        metrics = measures.update(StepState(position=p, distance_to_goal=distance, stop_called=last and stop_at_end))
    return metrics


def test_spl_is_one_on_the_shortest_path():
    m = _run_measures([(0, 0), (0, 1), (0, 2), (0, 2)], goal=(0, 2))
    assert m["success"] == 1.0 and m["spl"] == pytest.approx(1.0) and m["soft_spl"] == pytest.approx(1.0)


def test_spl_of_a_detour():
    # d0 = 2, path 1 + 2 + 1 = 4 (a U-shaped detour), success
    m = _run_measures([(0, 0), (1, 0), (1, 2), (0, 2), (0, 2)], goal=(0, 2))
    assert m["success"] == 1.0
    assert m["spl"] == pytest.approx(2.0 / 4.0)
    assert m["soft_spl"] == pytest.approx(1.0 * 2.0 / 4.0)


def test_soft_spl_without_success():
    # stops 1 m short: soft success 1 - 1/2, path 1 < d0 so the efficiency is 1
    m = _run_measures([(0, 0), (0, 1), (0, 1)], goal=(0, 2))
    assert m["success"] == 0.0 and m["spl"] == 0.0
    assert m["soft_spl"] == pytest.approx(0.5)
    assert m["distance_to_goal"] == pytest.approx(1.0)


def test_no_success_without_stop_and_soft_success_floors_at_zero():
    m = _run_measures([(0, 0), (0, 2)], goal=(0, 2), stop_at_end=False)
    assert m["success"] == 0.0 and m["distance_to_goal"] == 0.0
    far = _run_measures([(0, 0), (0, -3), (0, -3)], goal=(0, 2))  # ended 5 m away, further than d0
    assert far["soft_spl"] == 0.0


def test_distance_reward_is_the_reduction_of_distance():
    m = _run_measures([(0, 0), (0, 0.5)], goal=(0, 2), stop_at_end=False)
    assert m["distance_to_goal_reward"] == pytest.approx(0.5)


# ---------------------------------------------------------------- whole episodes in the box room
def _posenav_env(tmp_path, box_room, **task) -> NavEnv:
    episode = NavigationEpisode(
        episode_id="hand", scene_id=str(box_room), start_position=[0.0, 0.0, 1.0],
        start_rotation=yaw_to_quaternion(0.0).tolist(),
        goals=[PoseGoal(position=[0.0, 0.0, -1.0], rotation=yaw_to_quaternion(0.0).tolist())],
        info={"geodesic_distance": 2.0}, instruction={"instruction_text": "Move 2.0 m forward."})
    path = EpisodeDataset(task="posenav", episodes=[episode]).save(tmp_path / "val.json.gz")
    return NavEnv({"name": "posenav", **task}, dataset=path, sim={"turn_angle": 90.0})


def _play(env: NavEnv, actions: list[int]) -> tuple[dict, float]:
    env.reset(options={"episode_id": "hand"})
    total = 0.0
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
    return info, total


def test_oracle_success_is_having_been_at_the_goal_whether_or_not_it_stopped_there():
    passed = _run_measures([(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 4)], goal=(0, 2))  # walks past, stops 2 m on
    assert passed["success"] == 0.0 and passed["oracle_success"] == 1.0 and passed["distance_to_goal"] == 2.0
    short = _run_measures([(0, 0), (0, 1), (0, 1.5), (0, 1.5)], goal=(0, 2))  # never within 0.2 m
    assert short["oracle_success"] == 0.0
    stopped = _run_measures([(0, 0), (0, 1), (0, 2), (0, 2)], goal=(0, 2))
    assert stopped["success"] == stopped["oracle_success"] == 1.0


def test_posenav_detour_episode(tmp_path, box_room):
    env = _posenav_env(tmp_path, box_room)
    # left, 2 forward (x = -0.5), right, 8 forward (z = -1), right, 2 forward (x = 0), stop
    actions = [LEFT, FORWARD, FORWARD, RIGHT] + [FORWARD] * 8 + [RIGHT, FORWARD, FORWARD, STOP]
    info, total = _play(env, actions)
    np.testing.assert_allclose(info["position"], [0.0, 0.0, -1.0], atol=1e-5)
    assert info["success"] == 1.0 and info["distance_to_goal"] == pytest.approx(0.0, abs=1e-6)
    assert info["spl"] == pytest.approx(2.0 / 3.0)  # d0 = 2 m, walked 0.5 + 2 + 0.5 m
    assert info["soft_spl"] == pytest.approx(2.0 / 3.0)
    assert info["collisions"] == 0 and info["num_steps"] == len(actions)
    # distance-to-goal reward sums to d0, a slack of -0.01 per step, +2.5 for success
    assert total == pytest.approx(2.0 - 0.01 * len(actions) + 2.5)
    env.close()


def test_posenav_stopping_short(tmp_path, box_room):
    env = _posenav_env(tmp_path, box_room)
    info, _ = _play(env, [FORWARD] * 4 + [STOP])
    assert info["success"] == 0.0 and info["spl"] == 0.0
    assert info["distance_to_goal"] == pytest.approx(1.0)
    assert info["soft_spl"] == pytest.approx(0.5)  # (1 - 1/2) * 2 / max(2, 1)
    env.close()


def test_posenav_heading_tolerance(tmp_path, box_room):
    env = _posenav_env(tmp_path, box_room, heading_tolerance=10.0)
    facing, _ = _play(env, [FORWARD] * 8 + [STOP])
    assert facing["success"] == 1.0
    turned, _ = _play(env, [FORWARD] * 8 + [LEFT, STOP])
    assert turned["success"] == 0.0 and turned["distance_to_goal"] == pytest.approx(0.0, abs=1e-6)
    env.close()


def test_collisions_are_counted(tmp_path, box_room):
    env = _posenav_env(tmp_path, box_room)
    # facing -x from x = 0: 7 free steps reach x = -1.75; the wall (inner face x = -2, radius 0.1) stops the rest
    info, _ = _play(env, [LEFT] + [FORWARD] * 10)
    assert info["collisions"] == 3
    assert -2.0 + 0.1 - 0.05 <= info["position"][0] < -1.75
    env.close()


def _objectnav_env(tmp_path, box_room, **task) -> NavEnv:
    view_point = ViewPoint(position=[BLOCK_CENTER[0], 0.0, 0.0], rotation=yaw_to_quaternion(0.0).tolist())
    goal = ObjectGoal(object_id=7, object_category="cabinet", position=list(BLOCK_CENTER), view_points=[view_point])
    episode = NavigationEpisode(
        episode_id="hand", scene_id=str(box_room), start_position=[BLOCK_CENTER[0], 0.0, 1.5],
        start_rotation=yaw_to_quaternion(0.0).tolist(), goals=[goal], object_category="cabinet",
        info={"geodesic_distance": 1.5}, instruction={"instruction_text": "Find the cabinet."})
    dataset = EpisodeDataset(task="objectnav", episodes=[episode], categories=("cabinet",))
    path = dataset.save(tmp_path / "val.json.gz")
    return NavEnv({"name": "objectnav", "categories": ["cabinet"], **task}, dataset=path)


def test_objectnav_success_within_a_metre_of_a_view_point(tmp_path, box_room):
    env = _objectnav_env(tmp_path, box_room)
    at_one_metre, _ = _play(env, [FORWARD, FORWARD, STOP])  # exactly 1.0 m: not closer than 1.0
    assert at_one_metre["success"] == 0.0 and at_one_metre["distance_to_goal"] == pytest.approx(1.0)
    info, _ = _play(env, [FORWARD] * 3 + [STOP])
    assert info["success"] == 1.0 and info["distance_to_goal"] == pytest.approx(0.75)
    assert info["spl"] == pytest.approx(1.0)  # walked 0.75 m < d0 = 1.5 m
    assert info["soft_spl"] == pytest.approx(0.5)
    env.close()


def test_objectnav_centring_condition(tmp_path, box_room):
    env = _objectnav_env(tmp_path, box_room, require_centered=True)
    looking, _ = _play(env, [FORWARD] * 3 + [STOP])
    assert looking["success"] == 1.0
    away, _ = _play(env, [FORWARD] * 3 + [RIGHT, RIGHT, RIGHT, STOP])  # turned 90 degrees away
    assert away["success"] == 0.0
    env.close()
    assert math.isclose(env.task.center_region, 0.5)

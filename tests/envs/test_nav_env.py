"""The Gymnasium env: API conformance, vector envs, context video, errors."""

from __future__ import annotations

import multiprocessing

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import v4s.envs  # noqa: F401  (registers the ids)
from v4s.envs.nav_env import EpisodeOverError, NavEnv
from v4s.envs.sim import gl

ENV_IDS = ["v4s/ObjectNav-v0", "v4s/PoseNav-v0"]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes(env_id, backend):
    env = gym.make(env_id, split="val", num_episodes=5, backend=backend)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_gives_context_instruction_and_measures(env_id, backend):
    env = gym.make(env_id, split="val", num_episodes=5, backend=backend)
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    context = info["context"]
    assert context.dtype == np.uint8 and context.shape == (32, 128, 128, 3)
    assert context.std() > 10  # real frames, not a blank
    assert len(info["context_indices"]) == 32 and np.all(np.diff(info["context_indices"]) > 0)
    assert isinstance(info["instruction"], str) and info["instruction"]
    assert info["success"] == 0.0 and info["distance_to_goal"] > 0
    again, info2 = env.reset(seed=3)
    np.testing.assert_array_equal(info2["context"], context)  # the tour is deterministic
    for key in obs:
        np.testing.assert_array_equal(again[key], obs[key])
    env.close()


def test_observation_keys_follow_habitat_sensors():
    objectnav = NavEnv("objectnav", num_episodes=5)
    posenav = NavEnv("posenav", num_episodes=5)
    assert set(objectnav.observation_space) == {"rgb", "depth", "gps", "compass", "objectgoal"}
    assert set(posenav.observation_space) == {"rgb", "depth", "gps", "compass", "pointgoal_with_gps_compass"}
    no_depth = NavEnv({"name": "posenav", "depth": False}, num_episodes=5)
    assert "depth" not in no_depth.observation_space
    obs, info = posenav.reset(seed=0)
    goal = np.asarray(info["goals"][0]["position"])
    start = np.asarray(info["start_position"])
    assert obs["pointgoal_with_gps_compass"][0] == pytest.approx(np.linalg.norm((goal - start)[[0, 2]]), abs=1e-4)
    np.testing.assert_allclose(obs["gps"], [0.0, 0.0], atol=1e-6)
    for env in (objectnav, posenav, no_depth):
        env.close()


def test_episode_ends_and_stepping_after_the_end_is_an_error():
    env = NavEnv("posenav", num_episodes=5, sim={"turn_angle": 90.0})
    env.reset(seed=0)
    _, _, terminated, truncated, _ = env.step(0)
    assert terminated and not truncated
    with pytest.raises(EpisodeOverError, match="call reset"):
        env.step(1)
    short = NavEnv({"name": "posenav", "max_episode_steps": 3}, num_episodes=5)
    short.reset(seed=0)
    results = [short.step(2) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True] and not any(r[2] for r in results)
    env.close()
    short.close()


@pytest.mark.parametrize("action", [4, -1, 1.5, "forward"])
def test_action_outside_the_space(action):
    env = NavEnv("posenav", num_episodes=5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside the action space Discrete\(4\): 0=stop, 1=move_forward"):
        env.step(action)
    env.close()


def test_unknown_task_and_fields():
    with pytest.raises(ValueError, match="task.name: unknown task 'pickplace'"):
        NavEnv("pickplace")
    with pytest.raises(ValueError, match=r"task: unknown field\(s\) \['sucess_distance'\]"):
        NavEnv({"name": "posenav", "sucess_distance": 0.3})
    with pytest.raises(ValueError, match=r"sim: unknown field\(s\) \['fov'\]"):
        NavEnv("posenav", sim={"fov": 90})


def test_async_vector_env_runs_episodes_to_the_end():
    # the parent already holds a GL context: forkserver workers must still render
    make_parent_context = NavEnv("posenav", num_episodes=5)
    make_parent_context.reset(seed=0)
    assert gl.context_created()
    envs = gym.make_vec("v4s/PoseNav-v0", num_envs=2, vectorization_mode="async", num_episodes=5,
                        vector_kwargs={"context": "forkserver", "autoreset_mode": AutoresetMode.NEXT_STEP})
    obs, infos = envs.reset(seed=[0, 1])
    assert obs["rgb"].shape == (2, 128, 128, 3) and infos["context"].shape[:2] == (2, 32)
    finished = np.zeros(2, dtype=int)
    rng = np.random.default_rng(0)
    for _ in range(600):
        actions = np.where(rng.random(2) < 0.05, 0, rng.integers(1, 4, size=2))
        obs, _, terminated, truncated, infos = envs.step(actions)
        finished += terminated | truncated
        if finished.min() >= 2:
            break
    assert finished.min() >= 2  # each worker ran two episodes to their end
    envs.close()
    make_parent_context.close()


def _render_in_forked_child(queue):
    try:
        gl.get_context()
        queue.put("rendered")
    except gl.GLContextError as e:
        queue.put(str(e))


def test_a_forked_child_is_told_to_use_forkserver():
    env = NavEnv("posenav", num_episodes=5)
    env.reset(seed=0)  # creates this process's context
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_render_in_forked_child, args=(queue,))
    child.start()
    child.join(30)
    assert "forkserver" in queue.get(timeout=5)
    env.close()

"""Baseline agents in real episodes: the oracle succeeds and ends facing its goal; random is seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from v4s.agent import make_agent
from v4s.agent.oracle import OracleAgent
from v4s.agent.random_agent import RandomAgent
from v4s.envs.nav_env import NavEnv
from v4s.envs.sim.base import quaternion_to_yaw, wrap_angle
from v4s.envs.tasks.objectnav import centered


def _run(env: NavEnv, agent, episode_id: str, check_pose: bool = False) -> dict:
    obs, info = env.reset(options={"episode_id": episode_id})
    agent.reset(info)
    done = False
    while not done:
        if check_pose:
            position, yaw = agent.pose(obs)
            np.testing.assert_allclose(position, env.sim.agent_state.position, atol=1e-4)
            assert abs(wrap_angle(yaw - quaternion_to_yaw(env.sim.agent_state.rotation))) < 1e-4
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        done = terminated or truncated
    return info


@pytest.mark.parametrize("task", ["objectnav", "posenav"])
def test_oracle_succeeds_on_shortest_paths(task):
    env = NavEnv(task, split="val", num_episodes=5)
    agent = OracleAgent.for_env(env)
    env.reset(seed=0)
    for i, episode in enumerate(env.dataset.episodes[:5]):
        info = _run(env, agent, episode.episode_id, check_pose=i == 0)
        assert info["success"] == 1.0, f"episode {episode.episode_id}: {info['distance_to_goal']:.2f} m left"
        assert info["spl"] >= 0.8
        if task == "objectnav":  # it ends facing the goal object
            ids = {g.object_id for g in episode.goals}
            assert centered(env.sim.observe()["semantic"], ids, 0.5)
        else:
            goal_yaw = quaternion_to_yaw(episode.goals[0].rotation)
            yaw = quaternion_to_yaw(env.sim.agent_state.rotation)
            assert abs(math.degrees(wrap_angle(yaw - goal_yaw))) <= env.sim_config.turn_angle / 2 + 1e-6
    env.close()


def test_random_agent_is_seeded_per_episode():
    a, b = RandomAgent(seed=1), RandomAgent(seed=1)
    a.reset({"episode_id": "7"})
    b.reset({"episode_id": "3"})
    b.reset({"episode_id": "7"})
    first = [a.act({}) for _ in range(50)]
    assert first == [b.act({}) for _ in range(50)]
    a.reset({"episode_id": "8"})
    assert first != [a.act({}) for _ in range(50)]
    assert set(first) == {0, 1, 2, 3}


def test_make_agent_names_the_valid_agents():
    from v4s.envs.sim import SimConfig

    assert isinstance(make_agent("random", SimConfig(), seed=3), RandomAgent)
    with pytest.raises(ValueError, match=r"agent.name: unknown agent 'expert'; valid agents are \['oracle', 'random'\]"):
        make_agent("expert", SimConfig())

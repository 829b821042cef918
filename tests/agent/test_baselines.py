"""Baseline agents in real episodes: the oracle succeeds and ends facing its goal; random is seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from v4s.agent import EpisodeBrief, PerEnvAgents, make_agent
from v4s.agent.oracle import OracleAgent
from v4s.agent.random_agent import RandomAgent
from v4s.envs.nav_env import NavEnv
from v4s.envs.sim.base import quaternion_to_yaw, wrap_angle
from v4s.envs.tasks.objectnav import centered


def _run(env: NavEnv, agent, episode_id: str, check_pose: bool = False) -> dict:
    obs, info = env.reset(options={"episode_id": episode_id})
    agent.reset(EpisodeBrief.from_info(info, env.task.name, privileged=agent.privileged))
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
def test_oracle_succeeds_on_shortest_paths(task, backend):  # planning with the backend's own pathfinder
    env = NavEnv(task, split="val", num_episodes=5, backend=backend)
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
    def brief(episode_id: str) -> EpisodeBrief:
        return EpisodeBrief(episode_id, "house-100000", "posenav", np.zeros((0, 8, 8, 3), np.uint8),
                            np.zeros(0, np.int64), "Move 1.0 m forward, keeping your heading.")

    a, b = RandomAgent(seed=1), RandomAgent(seed=1)
    a.reset(brief("7"))
    b.reset(brief("3"))
    b.reset(brief("7"))
    first = [a.act({}) for _ in range(50)]
    assert first == [b.act({}) for _ in range(50)]
    a.reset(brief("8"))
    assert first != [a.act({}) for _ in range(50)]
    assert set(first) == {0, 1, 2, 3}


def test_make_agent_names_the_valid_agents():
    from v4s.envs.sim import SimConfig
    from v4s.envs.tasks.config import task_config

    task = task_config("posenav")
    agent = make_agent("random", SimConfig(), task, num_envs=2, seed=3)
    assert isinstance(agent, PerEnvAgents) and all(isinstance(a, RandomAgent) for a in agent.agents)
    with pytest.raises(ValueError, match=r"agent.name: unknown agent 'expert'; valid agents are "
                                         r"\['oracle', 'random', 'video'\]"):
        make_agent("expert", SimConfig(), task)


def test_only_a_privileged_agent_gets_goals_and_start_pose():
    env = NavEnv("objectnav", split="val", num_episodes=1)
    _, info = env.reset(seed=0)
    env.close()
    plain = EpisodeBrief.from_info(info, "objectnav")
    assert plain.privileged is None and plain.goal_pose is None
    assert plain.context.shape[0] == len(plain.context_indices) and plain.instruction == info["instruction"]
    # nothing of the goals or the start pose hides in the agent-visible fields
    visible = {k: v for k, v in plain.__dict__.items() if k != "privileged"}
    assert set(visible) == {"episode_id", "scene_id", "task", "context", "context_indices", "instruction", "goal_pose"}
    secret = EpisodeBrief.from_info(info, "objectnav", privileged=True)
    assert secret.privileged["goals"] == info["goals"]
    from v4s.envs.sim import SimConfig

    with pytest.raises(ValueError, match="privileged"):
        OracleAgent(SimConfig()).reset(plain)


def test_per_env_adapter_acts_only_for_active_envs():
    agents = PerEnvAgents(lambda: RandomAgent(seed=0), num_envs=3)
    brief = EpisodeBrief("1", "house-100000", "posenav", np.zeros((0, 8, 8, 3), np.uint8), np.zeros(0, np.int64), "x")
    for i in range(3):
        agents.reset(i, brief)
    actions = agents.act({"rgb": np.zeros((3, 8, 8, 3), np.uint8)}, np.array([True, False, True]))
    assert actions.shape == (3,) and actions[1] == 0
    # the active envs drew from their streams; env 1's stream was not touched
    fresh = RandomAgent(seed=0)
    fresh.reset(brief)
    expected = [fresh.act({}) for _ in range(2)]
    assert actions[0] == actions[2] == expected[0]
    assert agents.agents[1].act({}) == expected[0] and agents.agents[0].act({}) == expected[1]

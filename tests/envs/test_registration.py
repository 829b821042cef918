"""The registered env ids carry their task's step limit, as gymnasium's own envs do."""

from __future__ import annotations

import gymnasium as gym
import pytest

import v4s.envs  # noqa: F401  (registers the ids)
from v4s.envs.tasks.config import task_config


@pytest.mark.parametrize("env_id, task", [("v4s/ObjectNav-v0", "objectnav"), ("v4s/PoseNav-v0", "posenav")])
def test_the_spec_says_the_task_step_limit(env_id, task):
    assert gym.spec(env_id).max_episode_steps == task_config(task).max_episode_steps == 500


def test_make_with_a_step_limit_truncates_there():
    env = gym.make("v4s/PoseNav-v0", max_episode_steps=3, split="val", num_episodes=1, sim={"width": 32, "height": 32})
    assert env.spec.max_episode_steps == 3
    env.reset(seed=0)
    ends = [env.step(2)[3] for _ in range(3)]  # turn left: never ends an episode by itself
    assert ends == [False, False, True]
    env.close()

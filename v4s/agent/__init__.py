"""Policies: the agent interfaces, the baselines (random, oracle) and the video agent."""

from __future__ import annotations

from typing import Any

from v4s.agent.base import Agent, EpisodeBrief, PerEnvAgents, VectorAgent
from v4s.envs.sim.base import SimConfig
from v4s.envs.tasks.config import TaskConfig

AGENTS = ("oracle", "random", "video")


def make_agent(name: str, sim_config: SimConfig, task: TaskConfig, num_envs: int = 1, **kwargs: Any) -> VectorAgent:
    """The vector agent ``name`` for ``num_envs`` envs of ``task`` with ``sim_config``; ``kwargs`` are the
    agent's own settings (``agent.*`` in the bench's config)."""
    if name == "oracle":
        from v4s.agent.oracle import OracleAgent

        return PerEnvAgents(lambda: OracleAgent(sim_config, **kwargs), num_envs)
    if name == "random":
        from v4s.agent.random_agent import RandomAgent

        return PerEnvAgents(lambda: RandomAgent(**kwargs), num_envs)
    if name == "video":
        from v4s.agent.video import VideoAgent

        return VideoAgent(sim_config, task, num_envs=num_envs, **kwargs)
    raise ValueError(f"agent.name: unknown agent {name!r}; valid agents are {list(AGENTS)}")


__all__ = ["AGENTS", "Agent", "EpisodeBrief", "PerEnvAgents", "VectorAgent", "make_agent"]

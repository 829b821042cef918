"""Policies: the Agent interface, baselines, and (later) the video agent."""

from __future__ import annotations

from typing import Any

from v4s.agent.base import Agent
from v4s.envs.sim.base import SimConfig

AGENTS = ("oracle", "random")


def make_agent(name: str, sim_config: SimConfig, **kwargs: Any) -> Agent:
    """An agent by name, for an env with ``sim_config``; ``kwargs`` are the agent's own settings."""
    if name == "oracle":
        from v4s.agent.oracle import OracleAgent

        return OracleAgent(sim_config, **kwargs)
    if name == "random":
        from v4s.agent.random_agent import RandomAgent

        return RandomAgent(**kwargs)
    raise ValueError(f"agent.name: unknown agent {name!r}; valid agents are {list(AGENTS)}")


__all__ = ["AGENTS", "Agent", "make_agent"]

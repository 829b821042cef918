"""Policies: the agent interfaces, the baselines (random, oracle) and the video agent."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from v4s.agent.base import Agent, EpisodeBrief, PerEnvAgents, VectorAgent
from v4s.envs.sim.base import SimConfig
from v4s.envs.tasks.config import TaskConfig
from v4s.fileio import digest_path

AGENTS = ("oracle", "random", "video")
#: the constructor arguments every agent gets from the bench, not from ``agent.*``
_FROM_THE_BENCH = ("self", "sim_config", "backend", "task", "num_envs")


def agent_class(name: str) -> type:
    """The class of agent ``name`` (imported when asked for: the video agent pulls in torch)."""
    if name == "oracle":
        from v4s.agent.oracle import OracleAgent

        return OracleAgent
    if name == "random":
        from v4s.agent.random_agent import RandomAgent

        return RandomAgent
    if name == "video":
        from v4s.agent.video import VideoAgent

        return VideoAgent
    raise ValueError(f"agent.name: unknown agent {name!r}; valid agents are {list(AGENTS)}")


def make_agent(name: str, sim_config: SimConfig, task: TaskConfig, num_envs: int = 1, backend: str = "embedded",
               **kwargs: Any) -> VectorAgent:
    """The vector agent ``name`` for ``num_envs`` envs of ``task`` with ``sim_config`` on the simulator
    ``backend``; ``kwargs`` are the agent's own settings (``agent.*`` in the bench's config)."""
    cls = agent_class(name)
    if name == "oracle":
        return PerEnvAgents(lambda: cls(sim_config, backend=backend, **kwargs), num_envs)
    if name == "random":
        return PerEnvAgents(lambda: cls(**kwargs), num_envs)
    return cls(sim_config, task, num_envs=num_envs, **kwargs)


def agent_fingerprint(name: str, kwargs: dict[str, Any], task: TaskConfig | None = None) -> dict[str, Any]:
    """What of agent ``name`` with settings ``kwargs`` on ``task`` decides its results: every setting (the
    constructor's defaults filled in, so a changed default shows), less those an agent lists as not changing results
    (``RUN_ONLY_SETTINGS``, e.g. threads), those ``task`` does not read (``settings_ignored_by(task)``, e.g. another
    task's STOP rule) and those added later that are at the value which does what the agent did before them
    (``LATER_SETTINGS``: a run recorded before a setting existed still resumes), plus the digests of the
    checkpoints it loads (``checkpoints()``)."""
    cls = agent_class(name)
    parameters = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(kwargs) - set(parameters) - set(_FROM_THE_BENCH))
    if unknown:
        raise ValueError(f"agent: unknown setting(s) {unknown} for agent {name!r}; its settings are "
                         f"{sorted(set(parameters) - set(_FROM_THE_BENCH))}")
    settings = {k: p.default for k, p in parameters.items()
                if k not in _FROM_THE_BENCH and p.default is not inspect.Parameter.empty}
    settings.update(kwargs)
    for key in getattr(cls, "RUN_ONLY_SETTINGS", ()):
        settings.pop(key, None)
    if task is not None and hasattr(cls, "settings_ignored_by"):
        for key in cls.settings_ignored_by(task):
            settings.pop(key, None)
    for key, before in getattr(cls, "LATER_SETTINGS", {}).items():
        if key in settings and settings[key] == before:
            del settings[key]
    checkpoints = getattr(cls, "checkpoints", None)
    paths = checkpoints(settings) if checkpoints else {}
    for key, path in paths.items():
        if not Path(path).exists():
            raise FileNotFoundError(f"agent.{key}: no checkpoint at {path}")
    return {"name": name, "settings": settings,
            "checkpoints": {key: digest_path(path) for key, path in paths.items()}}


__all__ = ["AGENTS", "Agent", "EpisodeBrief", "PerEnvAgents", "VectorAgent", "agent_class", "agent_fingerprint",
           "make_agent"]

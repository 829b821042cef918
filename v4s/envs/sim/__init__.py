"""Simulator backends behind one contract (:class:`~v4s.envs.sim.base.Simulator`).

``embedded``: moderngl + trimesh, runs everywhere (see :mod:`v4s.envs.sim.embedded`).
``habitat``: habitat-sim, when it is installed (see :mod:`v4s.envs.sim.habitat`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from v4s.envs.sim.base import (
    SIM_ACTIONS,
    AgentState,
    InvalidActionError,
    MultiGoalShortestPath,
    NotNavigableError,
    PathFinder,
    ShortestPath,
    SimConfig,
    Simulator,
)

BACKENDS = ("embedded", "habitat")


def habitat_available() -> bool:
    """Whether habitat-sim can be imported in this environment."""
    import importlib.util

    return importlib.util.find_spec("habitat_sim") is not None


def make_sim(backend: str = "embedded", config: SimConfig | Mapping[str, Any] | None = None) -> Simulator:
    """A simulator of the named backend; ``config`` is a SimConfig or a mapping of its fields."""
    if config is None:
        config = SimConfig()
    elif not isinstance(config, SimConfig):
        config = SimConfig.from_mapping(config)
    if backend == "embedded":
        from v4s.envs.sim.embedded import EmbeddedSim

        return EmbeddedSim(config)
    if backend == "habitat":
        from v4s.envs.sim.habitat import HabitatSim

        return HabitatSim(config)
    raise ValueError(f"sim.backend: unknown backend {backend!r}; valid backends are {list(BACKENDS)}")


__all__ = ["AgentState", "BACKENDS", "InvalidActionError", "MultiGoalShortestPath", "NotNavigableError",
           "PathFinder", "SIM_ACTIONS", "ShortestPath", "SimConfig", "Simulator", "habitat_available", "make_sim"]

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


def _unknown_backend(backend: str) -> ValueError:
    """The error for a ``sim.backend`` that is not one of :data:`BACKENDS`."""
    return ValueError(f"sim.backend: unknown backend {backend!r}; valid backends are {list(BACKENDS)}")


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
    raise _unknown_backend(backend)


def scene_pathfinder(backend: str, scene: Any, config: SimConfig) -> PathFinder:
    """The PathFinder of ``scene`` for the agent of ``config`` on the named backend, without a renderer: the
    navigation (and the motion model, ``try_step``) that backend's simulator walks on, for a planner that
    runs beside the env (the oracle). Each backend keeps the scenes it built in a per-process cache."""
    from v4s.envs.scenes.spec import resolve_scene

    if backend == "embedded":
        from v4s.envs.sim.embedded import load_scene_assets

        return load_scene_assets(resolve_scene(scene, config.scenes_dir), config)[1]
    if backend == "habitat":
        from v4s.envs.sim.habitat import scene_pathfinder as habitat_pathfinder

        return habitat_pathfinder(scene, config)
    raise _unknown_backend(backend)


__all__ = ["AgentState", "BACKENDS", "InvalidActionError", "MultiGoalShortestPath", "NotNavigableError",
           "PathFinder", "SIM_ACTIONS", "ShortestPath", "SimConfig", "Simulator", "habitat_available", "make_sim",
           "scene_pathfinder"]

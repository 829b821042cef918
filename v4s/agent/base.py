"""The policy interfaces, as the benchmark drives them, and the episode brief an agent is given.

- :class:`EpisodeBrief`: what an agent learns at the start of an episode. Everything a real robot
  would be told (the episode, the scene, the task, a context video of the scene with its tour
  indices, and the instruction); the privileged fields (goals, start pose) only for an agent that
  declares ``privileged = True``, which among ours is the oracle.
- :class:`VectorAgent`: one agent for all N envs of a vector env. ``reset(index, brief)`` starts env
  ``index``'s episode; ``act(observations, active)`` gets the batch of observations (each key
  (N, ...)) with a mask of the envs whose episodes run, and returns N actions (inactive entries are
  ignored). A video agent batches its model calls across envs here.
- :class:`Agent`: the simple per-env form (``reset(brief)``, ``act(obs) -> int``) of the baselines;
  :class:`PerEnvAgents` puts N of them behind the vector interface.

Actions are the env's ``Discrete(4)``: 0 stop, 1 move_forward, 2 turn_left, 3 turn_right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EpisodeBrief:
    """What an agent is told at the start of an episode.

    Attributes:
        episode_id, scene_id, task: the episode, its scene and its task ("objectnav", "posenav").
        context: (T, H, W, 3) uint8 frames of a tour of the scene.
        context_indices: (T,) their positions in the tour (step indices, non-contiguous).
        instruction: the instruction's text ("Find the plant.", "Move 2.0 m forward ...").
        goal_pose: PoseNav's goal relative to the start, (4,) [x right, y up, z back, dyaw degrees]
            (Habitat's agent frame); None for ObjectNav.
        privileged: goals (positions, view points, headings) and the start pose, only for an agent
            that declared it needs them; None otherwise.
    """

    episode_id: str
    scene_id: str
    task: str
    context: np.ndarray
    context_indices: np.ndarray
    instruction: str
    goal_pose: np.ndarray | None = None
    privileged: Mapping[str, Any] | None = None

    @classmethod
    def from_info(cls, info: Mapping[str, Any], task: str, privileged: bool = False) -> EpisodeBrief:
        """The brief of a NavEnv's reset ``info``; the privileged fields only when ``privileged``."""
        secret = None
        if privileged:
            secret = {key: info[key] for key in ("goals", "start_position", "start_rotation")}
        goal = info.get("relative_goal")
        return cls(episode_id=str(info["episode_id"]), scene_id=str(info["scene_id"]), task=task,
                   context=np.asarray(info["context"]), context_indices=np.asarray(info["context_indices"]),
                   instruction=str(info["instruction"]),
                   goal_pose=None if goal is None else np.asarray(goal, dtype=np.float32), privileged=secret)


@runtime_checkable
class Agent(Protocol):
    """A per-env policy: ``reset(brief)`` at the start of an episode, then ``act(obs)`` once per step."""

    privileged: bool

    def reset(self, brief: EpisodeBrief) -> None: ...

    def act(self, obs: Mapping[str, np.ndarray]) -> int: ...


@runtime_checkable
class VectorAgent(Protocol):
    """One policy for the N envs of a vector env (see the module docstring)."""

    num_envs: int
    privileged: bool

    def reset(self, index: int, brief: EpisodeBrief) -> None: ...

    def act(self, observations: Mapping[str, np.ndarray], active: np.ndarray) -> np.ndarray: ...

    def episode_figures(self, index: int) -> dict[str, float]:
        """Figures of env ``index``'s episode so far, logged with it (e.g. planner calls, their time)."""
        ...


class PerEnvAgents:
    """N per-env agents behind the vector interface: ``make()`` builds each one."""

    def __init__(self, make: Callable[[], Agent], num_envs: int):
        self.agents = [make() for _ in range(num_envs)]
        self.num_envs = num_envs
        self.privileged = bool(getattr(self.agents[0], "privileged", False))

    def reset(self, index: int, brief: EpisodeBrief) -> None:
        self.agents[index].reset(brief)

    def act(self, observations: Mapping[str, np.ndarray], active: np.ndarray) -> np.ndarray:
        actions = np.zeros(self.num_envs, dtype=np.int64)
        for i in np.flatnonzero(active):
            actions[i] = self.agents[i].act({key: value[i] for key, value in observations.items()})
        return actions

    def episode_figures(self, index: int) -> dict[str, float]:
        figures = getattr(self.agents[index], "episode_figures", None)
        return figures() if figures is not None else {}

"""habitat-lab's navigation measures, one formula each (``habitat/tasks/nav/nav.py``).

Every measure has ``reset(state)`` at the start of an episode and ``update(state)``
after every step, in the order of :data:`MEASURES`: a measure may read the ones
before it. ``state`` is a :class:`StepState`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class StepState:
    """What the measures see: the agent's position after the step, and the task's verdicts."""

    position: np.ndarray  #: (3,) metres
    distance_to_goal: Callable[[np.ndarray], float]  #: geodesic distance from a position to the goal(s)
    stop_called: bool = False
    collided: bool = False
    goal_condition: bool = True  #: extra success conditions of the task (centring, heading)
    metrics: dict[str, float] = field(default_factory=dict)  #: filled in by the measures


class DistanceToGoal:
    """Geodesic distance from the agent to the nearest goal point (view points for ObjectNav)."""

    uuid = "distance_to_goal"

    def reset(self, s: StepState) -> None:
        self._previous: np.ndarray | None = None
        self.update(s)

    def update(self, s: StepState) -> None:
        if self._previous is None or not np.allclose(self._previous, s.position, atol=1e-4):
            self._metric = float(s.distance_to_goal(s.position))
            self._previous = np.array(s.position, dtype=np.float64)
        s.metrics[self.uuid] = self._metric


class Success:
    """1 when STOP is called closer than ``success_distance`` to the goal (and the task's conditions hold)."""

    uuid = "success"

    def __init__(self, success_distance: float):
        self.success_distance = success_distance

    def reset(self, s: StepState) -> None:
        self.update(s)

    def update(self, s: StepState) -> None:
        ok = s.stop_called and s.metrics[DistanceToGoal.uuid] < self.success_distance and s.goal_condition
        s.metrics[self.uuid] = 1.0 if ok else 0.0


class OracleSuccess:
    """1 once the agent has been closer than ``success_distance`` to the goal after any step (VLN-CE's
    ``oracle_success``): the success a perfect STOP would have given, to tell a route that never got there
    from one that passed the goal without stopping."""

    uuid = "oracle_success"

    def __init__(self, success_distance: float):
        self.success_distance = success_distance

    def reset(self, s: StepState) -> None:
        self._reached = False
        self.update(s)

    def update(self, s: StepState) -> None:
        self._reached = self._reached or s.metrics[DistanceToGoal.uuid] < self.success_distance
        s.metrics[self.uuid] = 1.0 if self._reached else 0.0


class SPL:
    """Success weighted by path length: S * d0 / max(d0, L), L the sum of per-step displacements."""

    uuid = "spl"

    def reset(self, s: StepState) -> None:
        self._previous = np.array(s.position, dtype=np.float64)
        self._travelled = 0.0
        self._start_distance = s.metrics[DistanceToGoal.uuid]
        self.update(s)

    def _efficiency(self, s: StepState) -> float:
        self._travelled += float(np.linalg.norm(np.asarray(s.position) - self._previous))
        self._previous = np.array(s.position, dtype=np.float64)
        longest = max(self._start_distance, self._travelled)
        return 1.0 if longest == 0.0 else self._start_distance / longest

    def update(self, s: StepState) -> None:
        s.metrics[self.uuid] = s.metrics[Success.uuid] * self._efficiency(s)


class SoftSPL(SPL):
    """SPL with soft success max(0, 1 - d / d0) in place of success."""

    uuid = "soft_spl"

    def update(self, s: StepState) -> None:
        d0 = self._start_distance
        soft = 0.0 if d0 == 0.0 else max(0.0, 1.0 - s.metrics[DistanceToGoal.uuid] / d0)
        s.metrics[self.uuid] = soft * self._efficiency(s)


class DistanceToGoalReward:
    """Reduction of the distance to the goal since the previous step, metres."""

    uuid = "distance_to_goal_reward"

    def reset(self, s: StepState) -> None:
        self._previous = s.metrics[DistanceToGoal.uuid]
        s.metrics[self.uuid] = 0.0

    def update(self, s: StepState) -> None:
        current = s.metrics[DistanceToGoal.uuid]
        reward = -(current - self._previous)
        # an unreachable goal at either end would make the difference inf or nan
        s.metrics[self.uuid] = reward if math.isfinite(reward) else 0.0
        self._previous = current


class Collisions:
    """Number of steps that collided so far."""

    uuid = "collisions"

    def reset(self, s: StepState) -> None:
        self._count = 0
        s.metrics[self.uuid] = 0

    def update(self, s: StepState) -> None:
        self._count += int(s.collided)
        s.metrics[self.uuid] = self._count


class Measures:
    """The measures of one episode, run in dependency order."""

    def __init__(self, success_distance: float):
        self.measures = [DistanceToGoal(), Success(success_distance), OracleSuccess(success_distance), SPL(),
                         SoftSPL(), DistanceToGoalReward(), Collisions()]

    def reset(self, s: StepState) -> dict[str, float]:
        for m in self.measures:
            m.reset(s)
        return dict(s.metrics)

    def update(self, s: StepState) -> dict[str, float]:
        for m in self.measures:
            m.update(s)
        return dict(s.metrics)

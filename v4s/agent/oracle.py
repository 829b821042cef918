"""OracleAgent: a greedy geodesic follower with privileged access to the map and the goals.

It plans with the pathfinder of the env's own backend (:func:`v4s.envs.sim.scene_pathfinder`: the
embedded navigation grid, or habitat-sim's navmesh, built from the scene file for the env's agent, so
it runs in any process, beside a vector env) and tracks its pose from the ``gps`` and ``compass``
observations. Each step it considers turning k times (left or right) and then stepping forward,
predicts where the step ends with that backend's motion model (``try_step``, with or without sliding,
as the simulator moves), and takes the first action of the choice that shortens the geodesic distance
most per metre walked (a turn costing a little). At the goal it turns to the final heading, facing the
goal object (ObjectNav) or the goal pose's heading (PoseNav), and calls STOP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from v4s.actions import FORWARD, LEFT, RIGHT, STOP
from v4s.agent.base import EpisodeBrief
from v4s.envs.sim import scene_pathfinder
from v4s.envs.sim.base import MultiGoalShortestPath, SimConfig, heading_vector, quaternion_to_yaw, wrap_angle
from v4s.geometry import from_agent_frame

#: what a turn costs, in metres of walking, when the oracle weighs turning against stepping
TURN_COST = 0.02


class OracleAgent:
    """Follows shortest paths to the episode's goal; ends facing the object or the goal heading.

    Args:
        sim_config: the env's simulator settings (agent size, step, turn angle, sliding).
        backend: the env's simulator backend, whose pathfinder it plans with.
        goal_radius: stop walking closer than this to the goal, metres (default 0.6 step).
    """

    privileged = True  #: it reads the goals and the start pose from the brief

    def __init__(self, sim_config: SimConfig, backend: str = "embedded", goal_radius: float | None = None):
        self.config = sim_config
        self.backend = backend
        self.turn = math.radians(sim_config.turn_angle)
        self.goal_radius = goal_radius if goal_radius is not None else 0.6 * sim_config.forward_step_size

    @classmethod
    def for_env(cls, env: Any, **kwargs: Any) -> OracleAgent:
        """An oracle for a NavEnv (or a wrapper of one)."""
        return cls(env.unwrapped.sim_config, backend=env.unwrapped.backend, **kwargs)

    def reset(self, brief: EpisodeBrief) -> None:
        if brief.privileged is None:
            raise ValueError(f"episode {brief.episode_id}: the oracle needs the privileged goals and start pose; "
                             "build its brief with privileged=True")
        self.pathfinder = scene_pathfinder(self.backend, brief.scene_id, self.config)
        self.start = np.asarray(brief.privileged["start_position"], dtype=np.float64)
        self.start_yaw = quaternion_to_yaw(np.asarray(brief.privileged["start_rotation"], dtype=np.float64))
        goals = list(brief.privileged["goals"])
        if "view_points" in goals[0]:  # ObjectNav: walk to the nearest view point, then face its object
            self.targets = [(np.asarray(vp, dtype=np.float64), np.asarray(g["position"], dtype=np.float64), None)
                            for g in goals for vp in g["view_points"]]
        else:  # PoseNav: walk to the goal, then turn to its heading
            self.targets = [(np.asarray(g["position"], dtype=np.float64), None,
                             quaternion_to_yaw(g["rotation"]) if g.get("rotation") is not None else None)
                            for g in goals]
        self._ends = [t[0] for t in self.targets]
        self._arrived: tuple | None = None
        self._plan: list[int] = []
        self._last_forward: np.ndarray | None = None

    def pose(self, obs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, float]:
        """World position (3,) and yaw from the gps/compass observations and the start pose."""
        forward, right = (float(v) for v in obs["gps"])
        position = self.start + from_agent_frame([right, 0.0, -forward], self.start_yaw)
        position[1] = self.pathfinder.snap_point(position)[1]  # the feet stand on the backend's navigation
        return position, wrap_angle(self.start_yaw + float(obs["compass"][0]))

    def _distance(self, position: np.ndarray) -> float:
        return self.pathfinder.geodesic_distance(position, self._ends)

    def _step_from(self, position: np.ndarray, yaw: float) -> np.ndarray:
        target = position + heading_vector(yaw) * self.config.forward_step_size
        if self.config.allow_sliding:
            return self.pathfinder.try_step(position, target)
        return self.pathfinder.try_step_no_sliding(position, target)

    def _walk(self, position: np.ndarray, yaw: float, path: MultiGoalShortestPath,
              blocked: bool) -> list[int] | None:
        """The turns and the forward step that best shorten the path, or None when none gets closer.
        ``blocked``: the last forward step from here did not move, so keep the heading out."""
        waypoint = next((p for p in path.points[1:] if np.hypot(*(p - position)[[0, 2]]) > 0.05), path.points[-1])
        wanted = wrap_angle(math.atan2(-(waypoint[0] - position[0]), -(waypoint[2] - position[2])) - yaw)
        near = round(wanted / self.turn)
        most = int(math.ceil(math.pi / self.turn))
        now = path.geodesic_distance
        for turns in (sorted({0, near - 1, near, near + 1}), range(-most, most + 1)):
            best, best_score = None, 0.0
            for k in turns:
                if blocked and k == 0:
                    continue
                end = self._step_from(position, yaw + k * self.turn)
                gain = now - self._distance(end)
                if gain < 1e-3:  # must get at least 1 mm closer
                    continue
                # SPL counts metres walked, not turns: prefer the straightest step, a turn costing 2 cm
                score = gain / (float(np.linalg.norm(end - position)) + TURN_COST * abs(k))
                if score > best_score:
                    best, best_score = k, score
            if best is not None:
                return self._plan_for(best)
        # pressed against an obstacle with no heading along it (turns are quantised, and without
        # sliding): step away first, choosing the step that makes the best second step possible
        best, best_score = None, 0.0
        for k1 in range(-most, most + 1):
            middle = self._step_from(position, yaw + k1 * self.turn)
            first = float(np.linalg.norm(middle - position))
            if first < 0.05:
                continue
            for k2 in range(-most, most + 1):
                end = self._step_from(middle, yaw + k2 * self.turn)
                gain = now - self._distance(end)
                score = gain / (first + float(np.linalg.norm(end - middle)) + TURN_COST * (abs(k1) + abs(k2 - k1)))
                if gain >= 1e-3 and score > best_score:
                    best, best_score = k1, score
        return None if best is None else self._plan_for(best)

    @staticmethod
    def _plan_for(turns: int) -> list[int]:
        """``turns`` turns (positive: left) then a step forward."""
        return [LEFT if turns > 0 else RIGHT] * abs(turns) + [FORWARD]

    def _turn_towards(self, yaw: float, target: float) -> int | None:
        delta = wrap_angle(target - yaw)
        if abs(delta) <= self.turn / 2 + 1e-6:
            return None
        return LEFT if delta > 0 else RIGHT

    def act(self, obs: Mapping[str, np.ndarray]) -> int:
        position, yaw = self.pose(obs)
        blocked = self._last_forward is not None and np.linalg.norm(self._last_forward - position) < 1e-4
        self._last_forward = None
        if self._plan and not blocked:  # finish the chosen turns and step, so noise cannot flip the choice
            return self._next(position)
        self._plan = []
        if self._arrived is None:
            path = MultiGoalShortestPath(requested_start=position, requested_ends=self._ends)
            if not self.pathfinder.find_path(path):
                return STOP  # nowhere to go
            if path.geodesic_distance > self.goal_radius:
                plan = self._walk(position, yaw, path, blocked)
                if plan is not None:
                    self._plan = plan
                    return self._next(position)
            self._arrived = self.targets[path.closest_end_point_index]  # there, or as close as steps get
        _, look_at, final_yaw = self._arrived
        if look_at is not None:
            final_yaw = math.atan2(-(look_at[0] - position[0]), -(look_at[2] - position[2]))
        action = self._turn_towards(yaw, final_yaw) if final_yaw is not None else None
        return STOP if action is None else action

    def _next(self, position: np.ndarray) -> int:
        action = self._plan.pop(0)
        if action == FORWARD:
            self._last_forward = position
        return action

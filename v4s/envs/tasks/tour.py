"""The context video: a deterministic tour of a house.

The tour visits every room (or, in scenes without room labels, waypoints spread
over the navigable area by farthest-point sampling), turning a full circle in
each, and walks between them along shortest paths. It is a list of poses one
action apart (``step`` metres or ``turn`` degrees); the context video renders
``num_frames`` of them, evenly spaced, and keeps each frame's index in the tour
(Video4Spatial's context frames keep their original temporal positions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from v4s.envs.scenes.semantic import Room
from v4s.envs.sim.base import ShortestPath, Simulator, wrap_angle, yaw_to_quaternion


@dataclass
class Tour:
    """Poses (N, 4): x, y, z (metres, feet on the floor) and yaw (radians)."""

    poses: np.ndarray

    def __len__(self) -> int:
        return len(self.poses)

    def indices(self, num_frames: int) -> np.ndarray:
        """``num_frames`` tour indices spread evenly from the first pose to the last: (T,) int."""
        return np.round(np.linspace(0, len(self.poses) - 1, num_frames)).astype(np.int64)


def _waypoints(sim: Simulator, rooms: list[Room]) -> list[np.ndarray]:
    pathfinder = sim.pathfinder
    points = []
    for room in sorted(rooms, key=lambda r: r.id):
        center = (np.asarray(room.aabb[0]) + np.asarray(room.aabb[1])) / 2.0
        center[1] = room.aabb[0][1]
        snapped = pathfinder.snap_point(center)
        if np.all(np.isfinite(snapped)):
            points.append(snapped)
    if points:
        return points
    # no room labels: farthest-point sampling over the navigable area
    rng_state = np.random.default_rng(0)
    pathfinder.seed(int(rng_state.integers(2**31)))
    candidates = np.array([pathfinder.get_random_navigable_point() for _ in range(400)])
    count = int(np.clip(round(pathfinder.navigable_area / 12.0), 2, 8))
    lo, hi = pathfinder.get_bounds()
    chosen = [int(np.argmin(np.linalg.norm(candidates - (lo + hi) / 2.0, axis=1)))]
    distance = np.linalg.norm(candidates - candidates[chosen[0]], axis=1)
    while len(chosen) < count:
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(candidates - candidates[chosen[-1]], axis=1))
    return [candidates[i] for i in chosen]


def _turn(poses: list[list[float]], position: np.ndarray, yaw: float, target: float, turn: float) -> float:
    """Append poses turning from ``yaw`` to ``target`` in steps of at most ``turn``; returns the final yaw."""
    delta = wrap_angle(target - yaw)
    steps = int(math.ceil(abs(delta) / turn - 1e-9))
    for k in range(1, steps + 1):
        poses.append([*position, yaw + delta * k / steps])
    return yaw + delta


def house_tour(sim: Simulator, rooms: list[Room], step: float = 0.25, turn_degrees: float = 30.0) -> Tour:
    """The tour of the loaded scene: room by room (nearest unvisited next), a full turn in each."""
    turn = math.radians(turn_degrees)
    pathfinder = sim.pathfinder
    remaining = _waypoints(sim, rooms)
    position = remaining.pop(0)
    yaw = 0.0
    poses: list[list[float]] = [[*position, yaw]]
    while True:
        for _ in range(int(round(2 * math.pi / turn))):  # look all around
            yaw += turn
            poses.append([*position, yaw])
        if not remaining:
            break
        lengths = [pathfinder.geodesic_distance(position, w) for w in remaining]
        nearest = int(np.argmin(lengths))
        if not math.isfinite(lengths[nearest]):
            break  # the other rooms are unreachable from here
        target = remaining.pop(nearest)
        path = ShortestPath(requested_start=position, requested_end=target)
        pathfinder.find_path(path)
        for a, b in zip(path.points[:-1], path.points[1:]):
            delta = np.asarray(b) - np.asarray(a)
            length = float(np.hypot(delta[0], delta[2]))
            if length < 1e-6:
                continue
            yaw = _turn(poses, np.asarray(a), yaw, math.atan2(-delta[0], -delta[2]), turn)
            for k in range(1, int(math.ceil(length / step)) + 1):
                point = np.asarray(a) + delta * min(1.0, k * step / length)
                if not pathfinder.is_navigable(point):  # a grid corner the straight segment grazes
                    point = pathfinder.snap_point(point)
                poses.append([*point, yaw])
        position = np.asarray(path.points[-1]) if path.points else target
    out = np.asarray(poses, dtype=np.float64)
    out[:, 3] = [wrap_angle(y) for y in out[:, 3]]
    return Tour(poses=out)


def render_poses(sim: Simulator, poses: np.ndarray, sensor: str = "rgb") -> np.ndarray:
    """Frames of ``sensor`` seen from ``poses`` (T, 4): (T, H, W, C); the agent is put back afterwards."""
    saved = sim.agent_state
    frames = []
    for x, y, z, yaw in poses:
        sim.set_agent_state([x, y, z], yaw_to_quaternion(yaw))
        frames.append(sim.observe()[sensor])
    sim.set_agent_state(saved.position, saved.rotation)
    return np.stack(frames)

"""Top-down maps for episode videos: navigable floor, goals, and the path so far.

Built on the PathFinder's ``get_topdown_view`` (habitat-sim's name), so it works with
every backend. Pixel (row, col) of world point (x, z) is
``((z - origin_z) / meters_per_pixel, (x - origin_x) / meters_per_pixel)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from v4s.envs.sim.base import Simulator

FLOOR = (225, 225, 220)
WALL = (60, 60, 66)
GOAL = (220, 40, 40)
VIEW_POINT = (60, 170, 90)
PATH = (40, 110, 230)
AGENT = (250, 170, 20)


@dataclass
class TopDownMap:
    """A map image (H, W, 3) uint8 with the goals drawn, and its world transform."""

    image: np.ndarray
    origin: tuple[float, float]  #: world (x, z) of the top-left corner
    meters_per_pixel: float

    @classmethod
    def of(cls, sim: Simulator, goal_points: np.ndarray, height: float | None = None,
           meters_per_pixel: float = 0.05) -> TopDownMap:
        """The loaded scene's navigable area on the floor level at ``height`` (metres; the episode's start:
        its goals are on the same floor; None: the lowest level) with ``goal_points`` (G, 3) marked."""
        pathfinder = sim.pathfinder
        lo, _ = pathfinder.get_bounds()
        view = pathfinder.get_topdown_view(meters_per_pixel, float(lo[1]) if height is None else float(height))
        image = np.where(view[..., None], np.array(FLOOR, np.uint8), np.array(WALL, np.uint8))
        out = cls(image=image.astype(np.uint8), origin=(float(lo[0]), float(lo[2])),
                  meters_per_pixel=meters_per_pixel)
        canvas = Image.fromarray(out.image)
        draw = ImageDraw.Draw(canvas)
        for point in np.asarray(goal_points).reshape(-1, 3):
            r, c = out.pixel(point)
            draw.ellipse([c - 2, r - 2, c + 2, r + 2], fill=VIEW_POINT if len(goal_points) > 1 else GOAL)
        out.image = np.asarray(canvas)
        return out

    def pixel(self, point: Sequence[float]) -> tuple[float, float]:
        """(row, col) of a world point."""
        return ((float(point[2]) - self.origin[1]) / self.meters_per_pixel,
                (float(point[0]) - self.origin[0]) / self.meters_per_pixel)

    def draw(self, positions: np.ndarray, heading: float, goals: Sequence[Sequence[float]] = ()) -> np.ndarray:
        """The map with ``goals`` (object centres) in red, the path ``positions`` (N, 3) so far, and the agent
        as an arrow along ``heading`` radians: (H, W, 3) uint8."""
        canvas = Image.fromarray(self.image)
        draw = ImageDraw.Draw(canvas)
        for goal in goals:
            r, c = self.pixel(goal)
            draw.rectangle([c - 3, r - 3, c + 3, r + 3], outline=GOAL, width=2)
        pts = [self.pixel(p)[::-1] for p in np.asarray(positions).reshape(-1, 3)]
        if len(pts) > 1:
            draw.line(pts, fill=PATH, width=2)
        if pts:
            c, r = pts[-1]
            tip = (c - 7 * math.sin(heading), r - 7 * math.cos(heading))
            draw.ellipse([c - 3, r - 3, c + 3, r + 3], fill=AGENT)
            draw.line([(c, r), tip], fill=AGENT, width=2)
        return np.asarray(canvas)

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "origin": np.array(self.origin, np.float32),
                "meters_per_pixel": np.float32(self.meters_per_pixel)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TopDownMap:
        return cls(image=np.asarray(values["image"]), origin=tuple(float(v) for v in values["origin"]),
                   meters_per_pixel=float(values["meters_per_pixel"]))

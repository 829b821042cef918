"""ObjectNav (object grounding): find any instance of a category and look at it.

Goals are every instance of the category in the scene. Each instance gets view
points: navigable poses within ``view_point_radius`` of its footprint, facing it,
from which it covers at least ``min_view_fraction`` of the semantic frame (as
habitat-lab's ObjectNav datasets do). DistanceToGoal measures to the nearest view
point; success is STOP within ``success_distance`` of one, and, with
``require_centered``, the object in the central region of the last frame (horizontally).
"""

from __future__ import annotations

import math

import numpy as np

from v4s.envs.scenes.semantic import SceneObject
from v4s.envs.sim.base import Simulator, yaw_to_quaternion
from v4s.envs.tasks.config import ObjectNavConfig
from v4s.envs.tasks.episodes import ObjectGoal, ViewPoint

#: how categories read in instructions
DISPLAY_NAMES = {"tv_monitor": "TV", "plant": "plant", "sofa": "sofa", "chair": "chair", "bed": "bed",
                 "toilet": "toilet"}

#: Video4Spatial's phrasing for object grounding
PAPER_TEMPLATE = ("The camera moves smoothly through the house. Finally, it focuses on a {name} "
                  "in the center of the frame.")
TEMPLATES = (
    PAPER_TEMPLATE,
    "Find the {name}.",
    "Go to the {name} and look at it.",
    "Navigate to a {name}.",
    "Look for a {name} in the house and stop in front of it.",
    "Walk over to the {name} so that it is in the middle of your view.",
)


def display_name(category: str) -> str:
    return DISPLAY_NAMES.get(category, category.replace("_", " "))


def instruction_text(category: str, rng: np.random.Generator, templates: str = "all") -> str:
    """An instruction for ``category``: the paper's template, or one drawn from all templates."""
    if templates not in ("all", "paper"):
        raise ValueError(f"task.instructions must be 'all' or 'paper', got {templates!r}")
    template = PAPER_TEMPLATE if templates == "paper" else TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    return template.format(name=display_name(category))


def _footprint_distance(x: np.ndarray, z: np.ndarray, obj: SceneObject) -> np.ndarray:
    """Horizontal distance from points to the object's AABB footprint (0 inside)."""
    (x0, _, z0), (x1, _, z1) = obj.aabb
    dx = np.maximum(np.maximum(x0 - x, x - x1), 0.0)
    dz = np.maximum(np.maximum(z0 - z, z - z1), 0.0)
    return np.hypot(dx, dz)


def object_view_points(sim: Simulator, obj: SceneObject, config: ObjectNavConfig) -> list[ViewPoint]:
    """Navigable poses facing ``obj`` from which it fills at least ``min_view_fraction`` of the frame.

    Renders the semantic sensor from each candidate; the agent is left where it was."""
    if "semantic" not in sim.config.sensors:
        raise ValueError("view points need the semantic sensor: add 'semantic' to sim.sensors")
    saved = sim.agent_state
    r, step = config.view_point_radius, config.view_point_spacing
    (x0, _, z0), (x1, _, z1) = obj.aabb
    xs = np.arange(math.floor((x0 - r) / step), math.ceil((x1 + r) / step) + 1) * step
    zs = np.arange(math.floor((z0 - r) / step), math.ceil((z1 + r) / step) + 1) * step
    gx, gz = np.meshgrid(xs, zs)
    near = _footprint_distance(gx, gz, obj)
    keep = (near > 0.0) & (near <= r)
    pathfinder = sim.pathfinder
    floor = float(pathfinder.get_bounds()[0][1])  # candidates stand on the floor, not on the object's base
    out = []
    for x, z in zip(gx[keep], gz[keep]):
        point = np.array([x, floor, z])
        if not pathfinder.is_navigable(point):
            continue
        position = pathfinder.snap_point(point)
        yaw = math.atan2(-(obj.center[0] - x), -(obj.center[2] - z))
        rotation = yaw_to_quaternion(yaw)
        sim.set_agent_state(position, rotation)
        fraction = float(np.mean(sim.observe()["semantic"] == obj.id))
        if fraction >= config.min_view_fraction:
            out.append(ViewPoint(position=[float(v) for v in position], rotation=[float(v) for v in rotation],
                                 iou=round(fraction, 4)))
    sim.set_agent_state(saved.position, saved.rotation)
    return out


def scene_goals(sim: Simulator, config: ObjectNavConfig) -> dict[str, list[ObjectGoal]]:
    """Every goal-category instance of the loaded scene that has view points, by category."""
    goals: dict[str, list[ObjectGoal]] = {}
    for obj in sim.objects:
        if obj.category not in config.categories:
            continue
        view_points = object_view_points(sim, obj, config)
        if view_points:
            goals.setdefault(obj.category, []).append(ObjectGoal(
                object_id=obj.id, object_category=obj.category, position=[float(v) for v in obj.center],
                view_points=view_points, room_id=obj.room))
    return {c: goals[c] for c in config.categories if c in goals}


def centered(semantic: np.ndarray, object_ids: set[int], region: float) -> bool:
    """Whether any of ``object_ids`` is visible with the centroid of its pixels in the central ``region``
    of the frame's width. Only the horizontal position counts: the agent turns but cannot tilt its
    camera, so a low object seen from close by sits low in the frame whatever the agent does."""
    w = semantic.shape[1]
    for object_id in object_ids:
        cols = np.nonzero(semantic == object_id)[1]
        if len(cols) and abs((cols.mean() + 0.5) / w - 0.5) <= region / 2:
            return True
    return False

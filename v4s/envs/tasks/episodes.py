"""Navigation episodes and datasets in habitat-lab's layout.

``{split}.json.gz`` follows habitat-lab's PointNav-v1 (PoseNav) and ObjectNav-v1
(ObjectNav) files: a top-level ``episodes`` list whose entries carry
``episode_id``, ``scene_id``, ``start_position``, ``start_rotation`` [x, y, z, w],
``info.geodesic_distance`` and ``goals``; ObjectNav episodes name an
``object_category`` and take their goals from the top-level
``goals_by_category["<scene_id>_<category>"]`` (every instance of the category in
the scene, each with its ``view_points``). Both add an ``instruction``
(``instruction_text``, as habitat's VLN episodes; PoseNav also the goal pose
relative to the start). PoseNav goals carry a ``rotation`` for the goal heading.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from v4s.envs.scenes.spec import SceneNotFoundError, SceneSpec, house_seed, resolve_scene, split_of_seed
from v4s.fileio import atomic_path

TASK_TYPES = {"objectnav": "ObjectNav-v1", "posenav": "PointNav-v1"}


class EpisodeFileError(ValueError):
    """An episode file that is malformed; the message names the file and the field."""


@dataclass
class ViewPoint:
    """A navigable pose from which the goal object is visible (``iou``: its share of the frame)."""

    position: list[float]
    rotation: list[float]
    iou: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"agent_state": {"position": self.position, "rotation": self.rotation}, "iou": self.iou}


@dataclass
class ObjectGoal:
    """One instance of the goal category (habitat's ObjectGoal)."""

    object_id: int
    object_category: str
    position: list[float]
    view_points: list[ViewPoint]
    room_id: int = -1
    room_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "radius": None, "object_id": self.object_id,
                "object_name": f"{self.object_category}_{self.object_id}", "object_category": self.object_category,
                "room_id": self.room_id, "room_name": self.room_name,
                "view_points": [v.to_json() for v in self.view_points]}


@dataclass
class PoseGoal:
    """A goal position, and the heading to end with (habitat's NavigationGoal plus ``rotation``)."""

    position: list[float]
    rotation: list[float] | None = None
    radius: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "rotation": self.rotation, "radius": self.radius}


@dataclass
class NavigationEpisode:
    """One episode: where the agent starts, and what it must reach."""

    episode_id: str
    scene_id: str
    start_position: list[float]
    start_rotation: list[float]
    goals: list[ObjectGoal] | list[PoseGoal]
    info: dict[str, Any] = field(default_factory=dict)
    object_category: str | None = None
    instruction: dict[str, Any] = field(default_factory=dict)

    @property
    def instruction_text(self) -> str:
        return str(self.instruction.get("instruction_text", ""))

    @property
    def goal_positions(self) -> np.ndarray:
        """(G, 3) positions DistanceToGoal measures to: view points for ObjectNav, goal points for PoseNav."""
        points = [vp.position for g in self.goals if isinstance(g, ObjectGoal) for vp in g.view_points]
        points += [g.position for g in self.goals if isinstance(g, PoseGoal)]
        return np.asarray(points, dtype=np.float64).reshape(-1, 3)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "episode_id": self.episode_id, "scene_id": self.scene_id,
            "start_position": self.start_position, "start_rotation": self.start_rotation,
            "info": self.info, "instruction": self.instruction,
        }
        if self.object_category is not None:
            out["object_category"] = self.object_category
            out["goals"] = []  # habitat's ObjectNav-v1: goals live in goals_by_category
        else:
            out["goals"] = [g.to_json() for g in self.goals]
        out["shortest_paths"] = None
        out["start_room"] = None
        return out


@dataclass
class EpisodeDataset:
    """A task's episodes; for ObjectNav also the goals by ``<scene_id>_<category>``."""

    task: str
    episodes: list[NavigationEpisode]
    goals_by_category: dict[str, list[ObjectGoal]] = field(default_factory=dict)
    categories: tuple[str, ...] = ()

    def episode(self, episode_id: str) -> NavigationEpisode:
        for ep in self.episodes:
            if ep.episode_id == episode_id:
                return ep
        raise KeyError(f"no episode with episode_id {episode_id!r}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v4s_task": self.task, "type": TASK_TYPES[self.task]}
        if self.task == "objectnav":
            out["category_to_task_category_id"] = {c: i for i, c in enumerate(self.categories)}
            out["category_to_scene_annotation_category_id"] = {c: i for i, c in enumerate(self.categories)}
            out["goals_by_category"] = {k: [g.to_json() for g in v] for k, v in self.goals_by_category.items()}
        out["episodes"] = [ep.to_json() for ep in self.episodes]
        return out

    def save(self, path: str | Path) -> Path:
        """Write gzipped json atomically."""
        path = Path(path)
        with atomic_path(path) as tmp, gzip.open(tmp, "wt") as f:
            json.dump(self.to_json(), f)
        return path


# ---------------------------------------------------------------------- loading
class _Reader:
    """Field access that names the file and the json path of whatever is wrong."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, message: str) -> EpisodeFileError:
        return EpisodeFileError(f"{self.path}: {where}: {message}")

    def get(self, entry: Any, key: str, where: str) -> Any:
        if not isinstance(entry, dict):
            raise self.fail(where, f"expected an object, got {type(entry).__name__}")
        if key not in entry:
            raise self.fail(where, f"missing field '{key}'")
        return entry[key]

    def vector(self, entry: Any, key: str, where: str, size: int) -> list[float]:
        value = self.get(entry, key, where)
        try:
            out = [float(v) for v in value]
        except (TypeError, ValueError):
            raise self.fail(f"{where}.{key}", f"expected {size} numbers, got {value!r}") from None
        if len(out) != size or not all(math.isfinite(v) for v in out):
            raise self.fail(f"{where}.{key}", f"expected {size} finite numbers, got {value!r}")
        return out

    def rotation(self, entry: Any, key: str, where: str) -> list[float]:
        q = self.vector(entry, key, where, 4)
        if abs(math.sqrt(sum(v * v for v in q)) - 1.0) > 1e-3:
            raise self.fail(f"{where}.{key}", f"expected a unit quaternion [x, y, z, w], got {q}")
        return q


def _object_goal(r: _Reader, entry: Any, where: str) -> ObjectGoal:
    view_points = []
    for j, vp in enumerate(r.get(entry, "view_points", where)):
        state = r.get(vp, "agent_state", f"{where}.view_points[{j}]")
        view_points.append(ViewPoint(position=r.vector(state, "position", f"{where}.view_points[{j}].agent_state", 3),
                                     rotation=r.rotation(state, "rotation", f"{where}.view_points[{j}].agent_state"),
                                     iou=float(vp.get("iou", 0.0))))
    if not view_points:
        raise r.fail(f"{where}.view_points", "an object goal needs at least one view point")
    return ObjectGoal(object_id=int(r.get(entry, "object_id", where)),
                      object_category=str(r.get(entry, "object_category", where)),
                      position=r.vector(entry, "position", where, 3), view_points=view_points,
                      room_id=int(entry.get("room_id", -1) if entry.get("room_id") is not None else -1),
                      room_name=entry.get("room_name"))


def check_scene_id(scene_id: str) -> SceneSpec | None:
    """Raise SceneNotFoundError unless ``scene_id`` names a generated house or an existing GLB."""
    seed = house_seed(scene_id)
    if seed is not None:
        if split_of_seed(seed) is None:
            raise SceneNotFoundError(f"scene id {scene_id!r} names no generated house (seed outside every split)")
        return None
    return resolve_scene(scene_id)


def load_dataset(path: str | Path, task: str | None = None) -> EpisodeDataset:
    """Read and validate ``{split}.json.gz`` (or plain ``.json``); errors name the file and field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"episode file not found: {path}")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            data = json.load(f)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EpisodeFileError(f"{path}: cannot read episodes ({type(e).__name__}: {e})") from None
    r = _Reader(path)
    if not isinstance(data, dict):
        raise r.fail("top level", "expected a json object with an 'episodes' list")
    if task is None:
        task = "objectnav" if "goals_by_category" in data else "posenav"
    if task not in TASK_TYPES:
        raise ValueError(f"task: unknown task {task!r}; valid tasks are {list(TASK_TYPES)}")
    raw_episodes = r.get(data, "episodes", "top level")
    if not isinstance(raw_episodes, list):
        raise r.fail("episodes", "expected a list")

    goals_by_category: dict[str, list[ObjectGoal]] = {}
    categories: tuple[str, ...] = ()
    if task == "objectnav":
        raw_goals = r.get(data, "goals_by_category", "top level")
        if not isinstance(raw_goals, dict):
            raise r.fail("goals_by_category", "expected an object keyed '<scene_id>_<category>'")
        for key, goals in raw_goals.items():
            goals_by_category[key] = [_object_goal(r, g, f"goals_by_category[{key!r}][{j}]")
                                      for j, g in enumerate(goals)]
        categories = tuple(data.get("category_to_task_category_id", {}))

    episodes, seen, scenes_checked = [], set(), set()
    for i, raw in enumerate(raw_episodes):
        where = f"episodes[{i}]"
        episode_id = str(r.get(raw, "episode_id", where))
        if episode_id in seen:
            raise r.fail(f"{where}.episode_id", f"duplicate episode_id {episode_id!r}")
        seen.add(episode_id)
        scene_id = r.get(raw, "scene_id", where)
        if not isinstance(scene_id, str):
            raise r.fail(f"{where}.scene_id", f"expected a string, got {scene_id!r}")
        if scene_id not in scenes_checked:
            try:
                check_scene_id(scene_id)
            except (SceneNotFoundError, FileNotFoundError) as e:
                raise r.fail(f"{where}.scene_id", str(e)) from None
            scenes_checked.add(scene_id)
        info = raw.get("info") or {}
        if not isinstance(info, dict) or "geodesic_distance" not in info:
            raise r.fail(f"{where}.info", "missing field 'geodesic_distance'")
        common = dict(episode_id=episode_id, scene_id=scene_id,
                      start_position=r.vector(raw, "start_position", where, 3),
                      start_rotation=r.rotation(raw, "start_rotation", where), info=info,
                      instruction=raw.get("instruction") or {})
        if task == "objectnav":
            category = r.get(raw, "object_category", where)
            if categories and category not in categories:
                raise r.fail(f"{where}.object_category", f"unknown category {category!r}; this dataset's categories "
                                                         f"are {list(categories)}")
            key = f"{scene_id}_{category}"
            goals = goals_by_category.get(key) or [_object_goal(r, g, f"{where}.goals[{j}]")
                                                   for j, g in enumerate(raw.get("goals") or [])]
            if not goals:
                raise r.fail(f"{where}.object_category",
                             f"no goals for category {category!r} in scene {scene_id!r} (goals_by_category[{key!r}])")
            episodes.append(NavigationEpisode(goals=goals, object_category=category, **common))
        else:
            raw_goals = r.get(raw, "goals", where)
            if not isinstance(raw_goals, list) or not raw_goals:
                raise r.fail(f"{where}.goals", "expected a non-empty list of goals")
            goals = []
            for j, g in enumerate(raw_goals):
                rotation = r.rotation(g, "rotation", f"{where}.goals[{j}]") if g.get("rotation") is not None else None
                goals.append(PoseGoal(position=r.vector(g, "position", f"{where}.goals[{j}]", 3), rotation=rotation,
                                      radius=g.get("radius")))
            episodes.append(NavigationEpisode(goals=goals, **common))
    return EpisodeDataset(task=task, episodes=episodes, goals_by_category=goals_by_category, categories=categories)

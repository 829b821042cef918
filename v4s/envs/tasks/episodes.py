"""Navigation episodes and datasets in habitat-lab's layouts.

``{split}.json.gz`` follows habitat-lab's PointNav-v1 (PoseNav) and ObjectNav-v1
(ObjectNav) files: a top-level ``episodes`` list whose entries carry
``episode_id``, ``scene_id``, ``start_position``, ``start_rotation`` [x, y, z, w],
``info.geodesic_distance`` and ``goals``; ObjectNav episodes name an
``object_category`` and take their goals from the top-level
``goals_by_category["<scene basename>_<category>"]`` (habitat-lab's
``ObjectGoalNavEpisode.goals_key``, e.g. ``apartment_1.glb_chair``: every instance of
the category in the scene, each with its ``view_points``). Both add an ``instruction``
(``instruction_text``, as habitat's VLN episodes; PoseNav also the goal pose
relative to the start). PoseNav goals carry a ``rotation`` for the goal heading.

Two layouts, both written and read: one file holding every episode, or habitat-lab's
per-scene layout, a top-level file whose ``episodes`` list is empty beside a
``content/`` folder of ``<scene>.json.gz`` files (each a whole dataset of one scene;
``<scene>`` is the scene file's name without its last extension). Relative scene ids
are read under ``scenes_dir`` (:func:`v4s.envs.scenes.spec.resolve_scene`). Older v4s
files, keyed ``<scene_id>_<category>``, still load.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from v4s.envs.scenes.spec import (
    SceneConfigError,
    SceneNotFoundError,
    SceneSpec,
    house_seed,
    resolve_scene,
    split_of_seed,
)
from v4s.envs.tasks.config import TASK_CONFIGS, task_kind
from v4s.fileio import atomic_path, digest_path

#: how a dataset is written: one file, or habitat-lab's per-scene content/ files
LAYOUTS = ("single", "content")


class EpisodeFileError(ValueError):
    """An episode file that is malformed; the message names the file and the field."""


def goals_key(scene_id: str, category: str) -> str:
    """habitat-lab's ``goals_by_category`` key of a scene's category: ``<scene basename>_<category>``."""
    return f"{os.path.basename(scene_id)}_{category}"


def content_name(scene_id: str) -> str:
    """The ``<scene>`` of a scene's ``content/<scene>.json.gz`` (habitat-lab's ``scene_from_scene_path``)."""
    return os.path.splitext(os.path.basename(scene_id))[0]


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
    """A task's episodes (ObjectNav episodes carry their goals; ``categories``: the task's category order)."""

    task: str
    episodes: list[NavigationEpisode]
    categories: tuple[str, ...] = ()

    def episode(self, episode_id: str) -> NavigationEpisode:
        for ep in self.episodes:
            if ep.episode_id == episode_id:
                return ep
        raise KeyError(f"no episode with episode_id {episode_id!r}")

    @property
    def goals_by_category(self) -> dict[str, list[ObjectGoal]]:
        """The ObjectNav goals by :func:`goals_key`; raises ValueError when two scenes share a file name (the
        key cannot tell them apart)."""
        out: dict[str, list[ObjectGoal]] = {}
        scene_of: dict[str, str] = {}
        for ep in self.episodes:
            if ep.object_category is None:
                continue
            key = goals_key(ep.scene_id, ep.object_category)
            if scene_of.setdefault(key, ep.scene_id) != ep.scene_id:
                raise ValueError(f"scenes {scene_of[key]!r} and {ep.scene_id!r} share the file name "
                                 f"{os.path.basename(ep.scene_id)!r}, so habitat-lab's goals_by_category key "
                                 f"{key!r} cannot tell them apart; rename one of them")
            out.setdefault(key, ep.goals)  # type: ignore[arg-type]
        return out

    def to_json(self) -> dict[str, Any]:
        kind = task_kind(self.task)
        out: dict[str, Any] = {"v4s_task": self.task, "type": kind.episode_type}
        if kind.object_goals:
            out["category_to_task_category_id"] = {c: i for i, c in enumerate(self.categories)}
            out["category_to_scene_annotation_category_id"] = {c: i for i, c in enumerate(self.categories)}
            out["goals_by_category"] = {k: [g.to_json() for g in v] for k, v in self.goals_by_category.items()}
        out["episodes"] = [ep.to_json() for ep in self.episodes]
        return out

    def save(self, path: str | Path, layout: str = "single") -> Path:
        """Write gzipped json atomically to ``path``; ``layout="content"`` writes habitat-lab's per-scene layout
        instead (``path`` with no episodes, and ``content/<scene>.json.gz`` beside it). Returns ``path``."""
        path = Path(path)
        if layout not in LAYOUTS:
            raise ValueError(f"layout: unknown layout {layout!r}; valid layouts are {list(LAYOUTS)}")
        if layout == "content":
            self._save_content(path)  # the scenes' files first: a top-level file always finds its content
        data = EpisodeDataset(self.task, [], self.categories).to_json() if layout == "content" else self.to_json()
        with atomic_path(path) as tmp, gzip.open(tmp, "wt") as f:
            json.dump(data, f)
        return path

    def _save_content(self, path: Path) -> None:
        by_name: dict[str, list[NavigationEpisode]] = {}
        scene_of: dict[str, str] = {}
        for ep in self.episodes:
            name = content_name(ep.scene_id)
            if scene_of.setdefault(name, ep.scene_id) != ep.scene_id:
                raise ValueError(f"scenes {scene_of[name]!r} and {ep.scene_id!r} would share content/{name}.json.gz; "
                                 "rename one of them, or write layout=single")
            by_name.setdefault(name, []).append(ep)
        content = path.parent / "content"
        foreign = sorted(p.name for p in content.glob("*.json.gz") if p.name[: -len(".json.gz")] not in by_name) \
            if content.is_dir() else []
        if foreign:
            raise FileExistsError(f"{content} holds episodes of other scenes ({', '.join(foreign[:5])}"
                                  f"{', ...' if len(foreign) > 5 else ''}), which would be read with these; write to "
                                  "an empty folder, one per split, as habitat-lab lays them out "
                                  "(<dataset>/<split>/<split>.json.gz)")
        for name, episodes in by_name.items():
            EpisodeDataset(self.task, episodes, self.categories).save(content / f"{name}.json.gz")


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


def check_scene_id(scene_id: str, scenes_dir: str | os.PathLike[str] | None = None) -> SceneSpec | None:
    """Raise SceneNotFoundError unless ``scene_id`` names a generated house or an existing scene file (relative
    paths under ``scenes_dir``); houses are not generated here."""
    seed = house_seed(scene_id)
    if seed is not None:
        if split_of_seed(seed) is None:
            raise SceneNotFoundError(f"scene id {scene_id!r} names no generated house (seed outside every split)")
        return None
    return resolve_scene(scene_id, scenes_dir)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"episode file not found: {path}")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            return json.load(f)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EpisodeFileError(f"{path}: cannot read episodes ({type(e).__name__}: {e})") from None


def _layout(path: Path) -> tuple[Any, list[Path]]:
    """The top-level json of a dataset file, and its ``content/*.json.gz`` files when it is in habitat-lab's
    per-scene layout (an empty ``episodes`` list with a ``content/`` folder beside it), else []."""
    top = _read_json(path)
    content = path.parent / "content"
    if isinstance(top, dict) and top.get("episodes") == [] and content.is_dir():
        files = sorted(content.glob("*.json.gz"))
        if not files:
            raise EpisodeFileError(f"{path}: episodes: empty, and {content} holds no <scene>.json.gz files")
        return top, files
    return top, []


def dataset_files(path: str | Path) -> list[Path]:
    """The files a dataset is read from: ``path``, then its ``content/`` files in the per-scene layout."""
    path = Path(path)
    return [path, *_layout(path)[1]]


def dataset_digest(path: str | Path) -> str:
    """sha256 of a dataset's content: :func:`v4s.fileio.digest_path` of a one-file dataset; in the per-scene
    layout, of every file's name and digest."""
    files = dataset_files(path)
    if len(files) == 1:
        return digest_path(files[0])
    h = hashlib.sha256()
    for file in files:
        h.update(file.relative_to(files[0].parent).as_posix().encode() + b"\0" + digest_path(file).encode())
    return h.hexdigest()


def load_dataset(path: str | Path, task: str | None = None,
                 scenes_dir: str | os.PathLike[str] | None = None) -> EpisodeDataset:
    """Read and validate ``{split}.json.gz`` (or plain ``.json``), in either layout; errors name the file and
    field. Relative scene ids are checked under ``scenes_dir``. In the per-scene layout, episode ids that repeat
    across content files (habitat-lab numbers each scene's episodes from 0) become ``<scene>:<episode_id>``."""
    path = Path(path)
    top, content = _layout(path)
    if not isinstance(top, dict):
        raise _Reader(path).fail("top level", "expected a json object with an 'episodes' list")
    parts = [(path, top)] if not content else [(file, _read_json(file)) for file in content]
    for file, data in parts:
        if not isinstance(data, dict):
            raise _Reader(file).fail("top level", "expected a json object with an 'episodes' list")
    if task is None:
        hints = ("goals_by_category", "category_to_task_category_id")
        object_goals = any(k in data for _, data in [(path, top), *parts] for k in hints)
        task = next((name for name, kind in TASK_CONFIGS.items() if kind.object_goals == object_goals), None)
        if task is None:
            raise _Reader(path).fail("top level", f"no task reads episodes {'with' if object_goals else 'without'} "
                                                  "goals_by_category; name the task")
    object_goals = task_kind(task).object_goals
    categories = tuple(next((d["category_to_task_category_id"] for d in (top, *(d for _, d in parts))
                             if isinstance(d.get("category_to_task_category_id"), dict)), {}))

    raw_parts = []
    for file, data in parts:
        r = _Reader(file)
        raw_episodes = r.get(data, "episodes", "top level")
        if not isinstance(raw_episodes, list):
            raise r.fail("episodes", "expected a list")
        raw_parts.append((r, data, raw_episodes))
    ids = [str(r.get(raw, "episode_id", f"episodes[{i}]")) for r, _, eps in raw_parts for i, raw in enumerate(eps)]
    qualify = len(raw_parts) > 1 and len(set(ids)) < len(ids)

    episodes, checked = [], set()
    for r, data, raw_episodes in raw_parts:
        goals_by_category: dict[str, list[ObjectGoal]] = {}
        if object_goals:
            raw_goals = data.get("goals_by_category", {})
            if not isinstance(raw_goals, dict):
                raise r.fail("goals_by_category", "expected an object keyed '<scene basename>_<category>'")
            for key, goals in raw_goals.items():
                goals_by_category[key] = [_object_goal(r, g, f"goals_by_category[{key!r}][{j}]")
                                          for j, g in enumerate(goals)]
        seen: set[str] = set()
        for i, raw in enumerate(raw_episodes):
            episode = _episode(r, raw, f"episodes[{i}]", object_goals, categories, goals_by_category, scenes_dir,
                               checked)
            if episode.episode_id in seen:
                raise r.fail(f"episodes[{i}].episode_id", f"duplicate episode_id {episode.episode_id!r}")
            seen.add(episode.episode_id)
            if qualify:
                episode.episode_id = f"{r.path.name[: -len('.json.gz')]}:{episode.episode_id}"
            episodes.append(episode)
    return EpisodeDataset(task=task, episodes=episodes, categories=categories)


def _episode(r: _Reader, raw: Any, where: str, object_goals: bool, categories: tuple[str, ...],
             goals_by_category: dict[str, list[ObjectGoal]], scenes_dir: str | os.PathLike[str] | None,
             checked: set[str]) -> NavigationEpisode:
    """One episode of a file, its scene checked once per dataset (``checked``); ``object_goals``: the task's
    episodes name an object category (ObjectNav-v1), else they carry goal positions."""
    episode_id = str(r.get(raw, "episode_id", where))
    scene_id = r.get(raw, "scene_id", where)
    if not isinstance(scene_id, str):
        raise r.fail(f"{where}.scene_id", f"expected a string, got {scene_id!r}")
    if scene_id not in checked:
        try:
            check_scene_id(scene_id, scenes_dir)
        except (FileNotFoundError, SceneConfigError) as e:
            raise r.fail(f"{where}.scene_id", str(e)) from None
        checked.add(scene_id)
    info = raw.get("info") or {}
    if not isinstance(info, dict) or "geodesic_distance" not in info:
        raise r.fail(f"{where}.info", "missing field 'geodesic_distance'")
    common = dict(episode_id=episode_id, scene_id=scene_id,
                  start_position=r.vector(raw, "start_position", where, 3),
                  start_rotation=r.rotation(raw, "start_rotation", where), info=info,
                  instruction=raw.get("instruction") or {})
    if object_goals:
        category = r.get(raw, "object_category", where)
        if categories and category not in categories:
            raise r.fail(f"{where}.object_category", f"unknown category {category!r}; this dataset's categories "
                                                     f"are {list(categories)}")
        key = goals_key(scene_id, category)
        goals = goals_by_category.get(key) or goals_by_category.get(f"{scene_id}_{category}") or \
            [_object_goal(r, g, f"{where}.goals[{j}]") for j, g in enumerate(raw.get("goals") or [])]
        if not goals:
            raise r.fail(f"{where}.object_category",
                         f"no goals for category {category!r} in scene {scene_id!r} (goals_by_category[{key!r}])")
        return NavigationEpisode(goals=goals, object_category=category, **common)
    raw_goals = r.get(raw, "goals", where)
    if not isinstance(raw_goals, list) or not raw_goals:
        raise r.fail(f"{where}.goals", "expected a non-empty list of goals")
    goals = []
    for j, g in enumerate(raw_goals):
        rotation = r.rotation(g, "rotation", f"{where}.goals[{j}]") if g.get("rotation") is not None else None
        goals.append(PoseGoal(position=r.vector(g, "position", f"{where}.goals[{j}]", 3), rotation=rotation,
                              radius=g.get("radius")))
    return NavigationEpisode(goals=goals, **common)

"""Semantic metadata of a scene: ``<scene_id>.semantic.json`` beside ``<scene_id>.glb``.

The file lists every labelled object instance with its id (the value the
semantic sensor writes on its pixels), category, world-frame AABB, room, and
the name of the GLB node that holds its geometry::

    {
      "format": "v4s-semantic-v1",
      "scene_id": "house-000123",
      "floor_height": 0.0,
      "generator": {"name": "v4s.procedural", "version": 1, "seed": 123},
      "rooms":   [{"id": 0, "type": "living_room", "aabb": [[x0, y0, z0], [x1, y1, z1]]}],
      "objects": [{"id": 1, "category": "chair", "node": "object_0001_chair",
                   "room": 0, "aabb": [[x0, y0, z0], [x1, y1, z1]]}]
    }

``generator`` is absent for scenes that v4s did not generate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from v4s.fileio import write_text_atomic

SEMANTIC_FORMAT = "v4s-semantic-v1"

#: The six ObjectNav goal categories of habitat's HM3D ObjectNav challenge.
OBJECTNAV_CATEGORIES: tuple[str, ...] = ("chair", "bed", "plant", "toilet", "tv_monitor", "sofa")

AABB = tuple[tuple[float, float, float], tuple[float, float, float]]


class SemanticFileError(ValueError):
    """A semantic json that is malformed or does not match its GLB."""


@dataclass(frozen=True)
class SceneObject:
    """One semantically labelled object instance.

    ``aabb`` is ``((xmin, ymin, zmin), (xmax, ymax, zmax))`` in metres, world frame.
    ``id`` is the value the semantic sensor writes on the object's pixels (0 is background).
    """

    id: int
    category: str
    aabb: AABB
    room: int = -1
    node: str = ""

    @property
    def center(self) -> np.ndarray:
        """(3,) centre of the AABB, metres."""
        return (np.asarray(self.aabb[0]) + np.asarray(self.aabb[1])) / 2.0

    @property
    def size(self) -> np.ndarray:
        """(3,) extent of the AABB, metres."""
        return np.asarray(self.aabb[1]) - np.asarray(self.aabb[0])

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "node": self.node, "room": self.room,
                "aabb": [list(self.aabb[0]), list(self.aabb[1])]}


@dataclass(frozen=True)
class Room:
    """A room of a generated house: ``aabb`` spans floor to ceiling, metres."""

    id: int
    type: str
    aabb: AABB

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "aabb": [list(self.aabb[0]), list(self.aabb[1])]}


@dataclass
class SceneMetadata:
    """The parsed content of a ``.semantic.json`` file."""

    scene_id: str
    objects: list[SceneObject] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)
    floor_height: float | None = None
    generator: dict[str, Any] | None = None

    @property
    def generated_by_v4s(self) -> bool:
        return bool(self.generator) and str(self.generator.get("name", "")).startswith("v4s")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": SEMANTIC_FORMAT, "scene_id": self.scene_id}
        if self.floor_height is not None:
            out["floor_height"] = self.floor_height
        if self.generator is not None:
            out["generator"] = self.generator
        out["rooms"] = [r.to_json() for r in self.rooms]
        out["objects"] = [o.to_json() for o in self.objects]
        return out

    def save(self, path: str | Path) -> None:
        """Write as json (atomically: a crash leaves either the old file or the new one)."""
        path = Path(path)
        write_text_atomic(path, json.dumps(self.to_json(), indent=1))


def _aabb(value: Any, where: str) -> AABB:
    try:
        lo, hi = (tuple(float(v) for v in corner) for corner in value)
    except (TypeError, ValueError):
        raise SemanticFileError(f"{where}: expected [[xmin, ymin, zmin], [xmax, ymax, zmax]], got {value!r}") from None
    if len(lo) != 3 or len(hi) != 3 or not all(math.isfinite(v) for v in lo + hi):
        raise SemanticFileError(f"{where}: expected two corners of 3 finite numbers, got {value!r}")
    if any(a > b for a, b in zip(lo, hi)):
        raise SemanticFileError(f"{where}: min corner {lo} exceeds max corner {hi}")
    return lo, hi  # type: ignore[return-value]


#: how errors name the json type a field must have
_JSON_TYPES: dict[Any, str] = {int: "an integer", (int, float): "a number", str: "a string", list: "a list",
                               dict: "an object"}
_REQUIRED = object()


def _field(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path, name: str = "", *,
           default: Any = _REQUIRED, fix: str = "") -> Any:
    """``entry[key]``, checked to be of json type ``kind`` (true and false are not numbers). Without a
    ``default`` the field is required; with one, an absent or null field gives ``default``.

    Raises SemanticFileError naming the file ``path``, the entry ``name`` (e.g. ``objects[3] (id 4)``;
    empty for the top level), the field, the expected type and ``fix``, what the value should be.
    """
    if entry.get(key) is None and default is not _REQUIRED:
        return default
    if key not in entry:
        where = f"{path}: {name}:" if name else f"{path}:"
        raise SemanticFileError(f"{where} missing field '{key}'" + (f" ({fix})" if fix else ""))
    value = entry[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = _JSON_TYPES.get(kind, getattr(kind, "__name__", str(kind)))
        field_name = f"{name}.{key}" if name else key
        raise SemanticFileError(f"{path}: {field_name}: expected {expected}, got {value!r}"
                                + (f"; set it to {fix}" if fix else ""))
    return value


def load_semantic(path: str | Path) -> SceneMetadata:
    """Parse and validate a ``.semantic.json``; every error names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"semantic file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SemanticFileError(f"{path}: not valid json ({e})") from None
    if not isinstance(data, dict):
        raise SemanticFileError(f"{path}: expected a json object at the top level")
    fmt = data.get("format")
    if fmt != SEMANTIC_FORMAT:
        raise SemanticFileError(f"{path}: field 'format' is {fmt!r}, expected {SEMANTIC_FORMAT!r}")
    scene_id = _field(data, "scene_id", str, path)
    rooms = []
    for i, entry in enumerate(_field(data, "rooms", list, path, default=[])):
        name = f"rooms[{i}]"
        if not isinstance(entry, dict):
            raise SemanticFileError(f"{path}: {name}: expected an object, got {entry!r}")
        rooms.append(Room(id=_field(entry, "id", int, path, name), type=_field(entry, "type", str, path, name),
                          aabb=_aabb(_field(entry, "aabb", list, path, name), f"{path}: {name}.aabb")))
    objects, seen = [], set()
    for i, entry in enumerate(_field(data, "objects", list, path)):
        name = f"objects[{i}]"
        if not isinstance(entry, dict):
            raise SemanticFileError(f"{path}: {name}: expected an object, got {entry!r}")
        obj_id = _field(entry, "id", int, path, name, fix="an integer >= 1, the value the semantic sensor writes on its pixels")
        if obj_id <= 0:
            raise SemanticFileError(f"{path}: {name}.id: object ids start at 1 (0 is background), got {obj_id}")
        if obj_id in seen:
            raise SemanticFileError(f"{path}: {name}.id: duplicate object id {obj_id}")
        seen.add(obj_id)
        name = f"{name} (id {obj_id})"
        objects.append(SceneObject(
            id=obj_id,
            category=_field(entry, "category", str, path, name, fix="a category name such as 'chair'"),
            aabb=_aabb(_field(entry, "aabb", list, path, name), f"{path}: {name}.aabb"),
            room=_field(entry, "room", int, path, name, default=-1,
                        fix="the id of the object's room in 'rooms' (an integer, e.g. 0), or -1 for none"),
            node=_field(entry, "node", str, path, name, fix="the name of the GLB node that holds the object's mesh"),
        ))
    floor = _field(data, "floor_height", (int, float), path, default=None,
                   fix="the height of the floor in metres, or leave the field out")
    generator = _field(data, "generator", dict, path, default=None)
    return SceneMetadata(scene_id=scene_id, objects=objects, rooms=rooms,
                         floor_height=None if floor is None else float(floor), generator=generator)

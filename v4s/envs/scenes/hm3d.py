"""HM3D semantics: ``<stem>.semantic.glb`` + ``<stem>.semantic.txt`` beside a scene's ``<stem>.glb``
(or HM3D's ``<stem>.basis.glb``).

The descriptor (``.semantic.txt``) is HM3D's semantic scene descriptor as habitat-sim's
``SemanticScene::buildHM3DHouse`` reads it: a header line, then one line per object::

    HM3D Semantic Annotations
    <id>,<RRGGBB>,"<category name>",<region>

The semantic GLB paints every object in its colour, either in its base-colour texture (HM3D
v0.2: the sRGB texel under each triangle) or per vertex (``COLOR_0``, linear like every glTF
colour; habitat-sim converts it to sRGB bytes before matching). A ``_OBJECT_ID`` vertex
attribute, when present, gives the ids directly (habitat-sim prefers it too). v4s's habitat
export writes this format for its own houses.

Each object becomes a :class:`~v4s.envs.scenes.semantic.SceneObject`: ``id`` is the first
column (the semantic sensor's value), ``category`` the HM3D name mapped by
:data:`HM3D_TO_OBJECTNAV` (names the table does not list stay as they are), ``aabb`` the bounds
of its semantic triangles, ``room`` the region. The file named by ``$V4S_HM3D_CATEGORIES``
(a json object ``{"hm3d name": "category"}``) adds to the table and overrides it.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from v4s.envs.scenes.semantic import SceneObject, SemanticFileError
from v4s.envs.scenes.spec import glb_stem

log = logging.getLogger(__name__)

#: first line of an HM3D semantic scene descriptor (habitat-sim's HM3DSemanticScene.cpp)
HM3D_SSD_HEADER = "HM3D Semantic Annotations"

#: the environment variable naming a json table that extends and overrides HM3D_TO_OBJECTNAV
CATEGORY_TABLE_ENV = "V4S_HM3D_CATEGORIES"

#: HM3D's raw category names (lower case, single spaces) -> v4s's ObjectNav categories
#: (``semantic.OBJECTNAV_CATEGORIES``, the goal categories of habitat's HM3D ObjectNav challenge)
HM3D_TO_OBJECTNAV: dict[str, str] = {
    **dict.fromkeys(("chair", "armchair", "office chair", "dining chair", "desk chair", "rocking chair",
                     "folding chair", "swivel chair"), "chair"),
    **dict.fromkeys(("bed", "double bed", "single bed", "bunk bed"), "bed"),
    **dict.fromkeys(("plant", "potted plant", "house plant", "indoor plant"), "plant"),
    **dict.fromkeys(("toilet",), "toilet"),
    **dict.fromkeys(("tv", "television", "tv monitor", "tv screen", "monitor", "computer monitor"), "tv_monitor"),
    **dict.fromkeys(("sofa", "couch", "sectional sofa", "loveseat"), "sofa"),
}


def semantic_files(glb: str | os.PathLike[str]) -> tuple[Path, Path] | None:
    """``(<stem>.semantic.glb, <stem>.semantic.txt)`` beside ``glb`` when both exist, else None. The stem of
    HM3D's ``<stem>.basis.glb`` is ``<stem>``."""
    glb = Path(glb)
    stem = glb_stem(glb)
    stem = stem[: -len(".basis")] if stem.endswith(".basis") else stem
    pair = glb.with_name(f"{stem}.semantic.glb"), glb.with_name(f"{stem}.semantic.txt")
    return pair if all(p.is_file() for p in pair) else None


def _normalised(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split())


def category_table(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """HM3D_TO_OBJECTNAV, extended and overridden by ``overrides``, or, when None, by the json table that
    ``$V4S_HM3D_CATEGORIES`` names (if set). Keys are normalised (lower case, ``_`` as space)."""
    if overrides is None:
        path = os.environ.get(CATEGORY_TABLE_ENV)
        overrides = _read_table(Path(path)) if path else {}
    return {**HM3D_TO_OBJECTNAV, **{_normalised(k): v for k, v in overrides.items()}}


def _read_table(path: Path) -> dict[str, str]:
    where = f"{path} (named by ${CATEGORY_TABLE_ENV})"
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"HM3D category table not found: {where}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SemanticFileError(f"{where}: not valid json ({e})") from None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                              for k, v in table.items()):
        raise SemanticFileError(f'{where}: expected a json object of HM3D names to categories, e.g. '
                                f'{{"armchair": "chair", "crib": "bed"}}')
    return table


def objectnav_category(name: str, table: Mapping[str, str]) -> str:
    """The category of an HM3D object named ``name``: its entry in ``table``, else ``name`` itself."""
    return table.get(_normalised(name), name.strip())


def read_descriptor(path: str | os.PathLike[str]) -> dict[int, tuple[int, str, int]]:
    """``{id: (0xRRGGBB colour, category name, region)}`` of an HM3D descriptor; errors name the file and line."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or HM3D_SSD_HEADER not in lines[0]:
        raise SemanticFileError(f"{path}: line 1: expected the header {HM3D_SSD_HEADER!r}, got {lines[:1]!r}")
    out: dict[int, tuple[int, str, int]] = {}
    colours: dict[int, int] = {}
    for number, row in enumerate(csv.reader(lines[1:]), start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            object_id, colour, name, region = int(row[0]), int(row[1].strip(), 16), row[2], int(row[-1])
        except (ValueError, IndexError):
            raise SemanticFileError(f'{path}: line {number}: expected <id>,<RRGGBB>,"<category>",<region>, '
                                    f"got {','.join(row)!r}") from None
        if object_id <= 0:
            raise SemanticFileError(f"{path}: line {number}: object ids start at 1 (0 is background), got {object_id}")
        if object_id in out:
            raise SemanticFileError(f"{path}: line {number}: duplicate object id {object_id}")
        if colour in colours:
            raise SemanticFileError(f"{path}: line {number}: colour {colour:06X} of object {object_id} is already "
                                    f"object {colours[colour]}'s, so the two cannot be told apart")
        colours[colour] = object_id
        out[object_id] = (colour, name, region)
    return out


def _srgb_to_linear_bytes(colours: np.ndarray) -> np.ndarray:
    """sRGB bytes (..., 3) -> the linear bytes trimesh makes of a float COLOR_0 holding their linear value."""
    s = np.asarray(colours, dtype=np.float64) / 255.0
    linear = np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    return np.round(linear.astype(np.float32) * 255.0).astype(np.int64)


def _packed(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def ids_of_colours(rgb: np.ndarray, descriptor: Mapping[int, tuple[int, str, int]], linear: bool) -> np.ndarray:
    """Object id (N,) int32 of each colour (N, 3) uint8; 0 for a colour no object has.

    ``linear``: the colours are linear bytes (vertex colours, as trimesh reads ``COLOR_0``), matched
    against the descriptor's sRGB colours after the same conversion; else sRGB bytes (a texture)."""
    ids = np.array(sorted(descriptor), dtype=np.int64)
    palette = np.array([descriptor[i][0] for i in ids], dtype=np.int64)
    if linear:
        palette = _packed(_srgb_to_linear_bytes(np.stack([(palette >> 16) & 255, (palette >> 8) & 255,
                                                          palette & 255], axis=-1)))
        unique, first = np.unique(palette, return_index=True)
        if len(unique) < len(palette):
            log.warning("%d HM3D objects share a vertex colour once it is quantised to linear bytes; "
                        "each such colour goes to the first of them", len(palette) - len(unique))
        ids, palette = ids[first], unique
    order = np.argsort(palette)
    palette, ids = palette[order], ids[order]
    keys = _packed(rgb)
    at = np.clip(np.searchsorted(palette, keys), 0, len(palette) - 1)
    return np.where(palette[at] == keys, ids[at], 0).astype(np.int32)


def scene_objects(positions: np.ndarray, faces: np.ndarray, object_ids: np.ndarray,
                  descriptor: Mapping[int, tuple[int, str, int]], table: Mapping[str, str]) -> list[SceneObject]:
    """One SceneObject per descriptor entry that owns triangles of the semantic mesh: positions (V, 3) world
    metres, faces (F, 3), per-vertex ``object_ids`` (V,). The AABB spans the object's triangles."""
    face_ids = object_ids[faces[:, 2]]  # a triangle shows its last vertex's id (OpenGL's provoking vertex)
    corner_ids = np.repeat(face_ids, 3)
    keep = corner_ids > 0
    if not keep.any():
        return []
    corner_ids, corners = corner_ids[keep], positions[faces].reshape(-1, 3)[keep].astype(np.float64)
    order = np.argsort(corner_ids, kind="stable")
    corner_ids, corners = corner_ids[order], corners[order]
    present, starts = np.unique(corner_ids, return_index=True)
    lo, hi = np.minimum.reduceat(corners, starts), np.maximum.reduceat(corners, starts)
    objects = []
    for object_id, low, high in zip(present.tolist(), lo, hi):
        if object_id not in descriptor:
            continue
        _, name, region = descriptor[object_id]
        objects.append(SceneObject(id=object_id, category=objectnav_category(name, table), room=region,
                                   aabb=(tuple(map(float, low)), tuple(map(float, high)))))
    missing = len(set(descriptor) - set(present.tolist()))
    if missing:
        log.debug("%d objects of the HM3D descriptor have no triangles in the semantic mesh", missing)
    return objects

"""Naming and locating scenes: generated houses by id or split, user GLBs by path.

Generated houses are named ``house-<seed:06d>``. Each split owns a fixed,
disjoint seed range, so a house id says which split it belongs to. Houses are
generated on demand into a cache directory (``$V4S_CACHE`` or ``~/.cache/v4s``).

A user's GLB may come with habitat-sim's ``<stem>.stage_config.json`` beside it. Its
``up`` and ``front`` (the asset's own up and forward directions) and ``scale`` say how
the asset sits in the world (habitat's frame: y up, looking down -z, metres), and its
``render_asset`` / ``collision_asset`` name the meshes (paths relative to the config).
The stage config itself may also be given as the scene. A relative scene path is read
under ``scenes_dir`` when one is given (habitat-lab's rule: a leading
``data/scene_datasets/`` is dropped first), else under the working directory.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: split -> (first seed, number of seeds). Disjoint by construction.
SPLIT_SEEDS: dict[str, tuple[int, int]] = {
    "train": (0, 100_000),
    "val": (100_000, 1_000),
    "test": (200_000, 1_000),
}

#: the prefix habitat-lab drops from an episode's scene_id before joining it to scenes_dir
DEFAULT_SCENE_PATH_PREFIX = "data/scene_datasets/"
#: the name of habitat-sim's stage config of ``<stem>.glb``
STAGE_CONFIG_SUFFIX = ".stage_config.json"

Vector = tuple[float, float, float]

_HOUSE_ID = re.compile(r"^house-(\d{6})$")


class SceneNotFoundError(FileNotFoundError):
    """A scene id or path that names no scene."""


class SceneConfigError(ValueError):
    """A stage config (or SceneSpec frame) that cannot be used; the message names the file and the field."""


def _vector(value: Any, where: str) -> Vector:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise SceneConfigError(f"{where}: expected 3 numbers, got {value!r}") from None
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise SceneConfigError(f"{where}: expected 3 finite numbers, got {value!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class SceneSpec:
    """Where a scene lives on disk, and how its asset sits in the world.

    ``glb`` is the render mesh; ``collision`` a separate collision mesh (None: the render mesh
    collides); ``semantic`` the ``.semantic.json`` (None for scenes without labels). ``up`` and
    ``front`` are the asset's up and forward directions in its own coordinates (habitat-sim's stage
    ``up`` / ``front``; glTF's y up, -z forward by default; Matterport-style scans are up (0, 0, 1),
    front (0, 1, 0)), and ``scale`` multiplies the asset's own axes (habitat's ``scale``; 0.01 for
    a model in centimetres). :attr:`world_transform` turns it all into one matrix.
    """

    scene_id: str
    glb: Path
    semantic: Path | None = None
    up: Vector = (0.0, 1.0, 0.0)
    front: Vector = (0.0, 0.0, -1.0)
    scale: Vector = (1.0, 1.0, 1.0)
    collision: Path | None = None

    def __post_init__(self) -> None:
        where = f"scene {self.scene_id!r}"
        up, front, scale = (_vector(getattr(self, k), f"{where}: {k}") for k in ("up", "front", "scale"))
        lengths = np.linalg.norm(up), np.linalg.norm(front)
        if min(lengths) < 1e-9:
            raise SceneConfigError(f"{where}: up {list(up)} and front {list(front)} must be non-zero directions")
        if abs(float(np.dot(up, front))) / (lengths[0] * lengths[1]) > 1e-6:
            raise SceneConfigError(f"{where}: up {list(up)} and front {list(front)} must be orthogonal (y-up glTF: "
                                   "up [0, 1, 0], front [0, 0, -1]; z-up scans: up [0, 0, 1], front [0, 1, 0])")
        if not all(s > 0 for s in scale):
            raise SceneConfigError(f"{where}: scale must be positive, got {list(scale)}")
        object.__setattr__(self, "up", tuple(float(v) for v in np.asarray(up) / lengths[0]))
        object.__setattr__(self, "front", tuple(float(v) for v in np.asarray(front) / lengths[1]))
        object.__setattr__(self, "scale", scale)

    @property
    def world_transform(self) -> np.ndarray:
        """(4, 4) float64: asset coordinates -> world (y up, looking down -z, metres).

        Scales the asset's own axes, then turns ``up`` to +y and ``front`` to -z."""
        up, front = np.asarray(self.up), np.asarray(self.front)
        rotation = np.stack([np.cross(front, up), up, -front])  # rows: the asset's right, up and back
        out = np.eye(4)
        out[:3, :3] = rotation * np.asarray(self.scale)[None, :]
        return out


def cache_dir() -> Path:
    """Root of the on-demand scene cache."""
    return Path(os.environ.get("V4S_CACHE", Path.home() / ".cache" / "v4s")).expanduser()


def house_id(seed: int) -> str:
    return f"house-{seed:06d}"


def split_of_seed(seed: int) -> str | None:
    for split, (first, count) in SPLIT_SEEDS.items():
        if first <= seed < first + count:
            return split
    return None


def split_scene_ids(split: str, num: int, start: int = 0) -> list[str]:
    """The ids of houses ``start .. start+num-1`` of ``split``."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split: unknown split {split!r}; valid splits are {list(SPLIT_SEEDS)}")
    first, count = SPLIT_SEEDS[split]
    if num < 0 or start < 0 or start + num > count:
        raise ValueError(f"split {split!r} holds {count} houses; asked for {num} from index {start}")
    return [house_id(first + i) for i in range(start, start + num)]


def house_seed(scene_id: str) -> int | None:
    """The seed of a generated house id, or None for any other name."""
    m = _HOUSE_ID.match(scene_id)
    return int(m.group(1)) if m else None


def generated_house(scene_id: str, root: Path | None = None) -> SceneSpec:
    """The spec of a generated house, generating it into the cache when missing."""
    seed = house_seed(scene_id)
    if seed is None or split_of_seed(seed) is None:
        raise SceneNotFoundError(
            f"scene id {scene_id!r} names no generated house; ids look like 'house-100000' with a seed "
            f"in one of the split ranges {SPLIT_SEEDS}"
        )
    out = (root or cache_dir() / "scenes") / scene_id
    glb, semantic = out / f"{scene_id}.glb", out / f"{scene_id}.semantic.json"
    if not (glb.is_file() and semantic.is_file()):
        from v4s.envs.scenes.procedural import write_house

        write_house(seed, out)
    return SceneSpec(scene_id=scene_id, glb=glb, semantic=semantic)


def scene_path(name: str, scenes_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where a scene path points: relative ones under ``scenes_dir`` (habitat-lab's rule, dropping a leading
    ``data/scene_datasets/``), or under the working directory when there is none."""
    path = Path(name).expanduser()
    if scenes_dir is None or path.is_absolute():
        return path
    if name.startswith(DEFAULT_SCENE_PATH_PREFIX):
        name = name[len(DEFAULT_SCENE_PATH_PREFIX):]
    return Path(scenes_dir).expanduser() / name


def _strip(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if name.lower().endswith(suffix) else name


def glb_stem(path: str | os.PathLike[str]) -> str:
    """The name a scene's side files share: ``<stem>`` of ``<stem>.glb`` (any case), else the file's stem. The
    stage config, semantic json and habitat exports are named ``<stem>.*`` beside the GLB."""
    name = Path(path).name
    return _strip(name, ".glb") if name.lower().endswith(".glb") else Path(name).stem


def read_stage_config(path: Path) -> dict[str, Any]:
    """The SceneSpec fields habitat-sim's stage config at ``path`` sets: ``up``, ``front``, ``scale``, and the
    ``glb`` / ``collision`` it names (``render_asset`` / ``collision_asset``, relative to the config). Errors
    name the file and the field."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SceneConfigError(f"{path}: cannot read the stage config ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise SceneConfigError(f"{path}: expected a json object of stage attributes")
    out: dict[str, Any] = {}
    if ("up" in data) != ("front" in data):
        raise SceneConfigError(f"{path}: 'up' and 'front' go together (habitat-sim needs both); add "
                               f"{'front' if 'up' in data else 'up'}")
    for key in ("up", "front", "scale"):
        if key in data:
            out[key] = _vector(data[key], f"{path}: {key}")
    if "origin" in data and any(v != 0 for v in _vector(data["origin"], f"{path}: origin")):
        raise SceneConfigError(f"{path}: origin {data['origin']} is not supported (v4s keeps the asset's origin "
                               "at the world origin); move the scene in the GLB, or set origin to [0, 0, 0]")
    for key, field_name in (("render_asset", "glb"), ("collision_asset", "collision")):
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise SceneConfigError(f"{path}: {key}: expected a file path, got {data[key]!r}")
            out[field_name] = path.parent / data[key]
    return out


def resolve_scene(scene: SceneSpec | str | os.PathLike[str],
                  scenes_dir: str | os.PathLike[str] | None = None) -> SceneSpec:
    """Turn a spec, a generated house id, a ``.glb`` path or a ``.stage_config.json`` path into a SceneSpec.

    A GLB picks up ``<stem>.semantic.json`` and ``<stem>.stage_config.json`` beside it when present;
    a stage config names its GLB (``render_asset``). Relative paths are read under ``scenes_dir``
    (see :func:`scene_path`). Raises SceneNotFoundError naming the path, SceneConfigError naming the
    stage config's field.
    """
    if isinstance(scene, SceneSpec):
        return scene
    name = os.fspath(scene)
    if house_seed(name) is not None:
        return generated_house(name)
    path = scene_path(name, scenes_dir)
    if scenes_dir is not None and not Path(name).expanduser().is_absolute():
        where = f" (scene {name!r} under sim.scenes_dir={os.fspath(scenes_dir)!r})"
    elif not path.is_absolute():
        where = " (relative to the working directory; set sim.scenes_dir to read scenes under a scenes folder)"
    else:
        where = ""
    if path.name.lower().endswith(STAGE_CONFIG_SUFFIX):
        stage, stem = path, _strip(path.name, STAGE_CONFIG_SUFFIX)
        if not stage.is_file():
            raise SceneNotFoundError(f"stage config not found: {stage}{where}")
        fields = read_stage_config(stage)
        if "glb" not in fields:
            raise SceneConfigError(f"{stage}: render_asset: missing; it names the scene's GLB")
        glb = fields.pop("glb")
    elif path.suffix.lower() == ".glb":
        glb, stem = path, glb_stem(path)
        stage = path.with_name(stem + STAGE_CONFIG_SUFFIX)
        fields = read_stage_config(stage) if stage.is_file() else {}
        named = fields.pop("glb", glb)
        if glb.is_file() and named.is_file() and not named.samefile(glb):
            raise SceneConfigError(f"{stage}: render_asset names {named}, not {glb}; give the stage config itself "
                                   "as the scene to load the GLB it names")
    else:
        raise SceneNotFoundError(f"scene {name!r} is neither a generated house id (house-NNNNNN), a .glb path nor "
                                 "a .stage_config.json path")
    if not glb.is_file():
        raise SceneNotFoundError(f"scene file not found: {glb}{where}")
    collision = fields.pop("collision", None)
    if collision is not None and not collision.is_file():
        raise SceneNotFoundError(f"{stage}: collision_asset: file not found: {collision}")
    semantic = glb.with_name(f"{glb_stem(glb)}.semantic.json")
    return SceneSpec(scene_id=stem, glb=glb, semantic=semantic if semantic.is_file() else None,
                     collision=None if collision is None or collision.samefile(glb) else collision, **fields)


"""Naming and locating scenes: generated houses by id or split, user GLBs by path.

Generated houses are named ``house-<seed:06d>``. Each split owns a fixed,
disjoint seed range, so a house id says which split it belongs to. Houses are
generated on demand into a cache directory (``$V4S_CACHE`` or ``~/.cache/v4s``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: split -> (first seed, number of seeds). Disjoint by construction.
SPLIT_SEEDS: dict[str, tuple[int, int]] = {
    "train": (0, 100_000),
    "val": (100_000, 1_000),
    "test": (200_000, 1_000),
}

_HOUSE_ID = re.compile(r"^house-(\d{6})$")


class SceneNotFoundError(FileNotFoundError):
    """A scene id or path that names no scene."""


@dataclass(frozen=True)
class SceneSpec:
    """Where a scene lives on disk.

    ``glb`` is the render and collision mesh; ``semantic`` the ``.semantic.json`` (None for
    scenes without labels); ``up_axis`` the mesh's up axis ("y" as glTF says, or "z").
    """

    scene_id: str
    glb: Path
    semantic: Path | None = None
    up_axis: str = "y"


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


def resolve_scene(scene: SceneSpec | str | os.PathLike[str], up_axis: str = "y") -> SceneSpec:
    """Turn a spec, a generated house id, or a path to a ``.glb`` into a SceneSpec.

    A GLB path picks up ``<stem>.semantic.json`` beside it when present.
    """
    if isinstance(scene, SceneSpec):
        return scene
    name = os.fspath(scene)
    if house_seed(name) is not None:
        return generated_house(name)
    path = Path(name).expanduser()
    if path.suffix.lower() != ".glb":
        raise SceneNotFoundError(f"scene {name!r} is neither a generated house id (house-NNNNNN) nor a .glb path")
    if not path.is_file():
        raise SceneNotFoundError(f"scene file not found: {path}")
    stem = path.name[: -len(".glb")]
    semantic = path.with_name(f"{stem}.semantic.json")
    return SceneSpec(scene_id=stem, glb=path, semantic=semantic if semantic.is_file() else None, up_axis=up_axis)


def split_scenes(split: str, num: int, start: int = 0) -> list[SceneSpec]:
    """Houses ``start .. start+num-1`` of ``split``, generated into the cache as needed."""
    return [generated_house(scene_id) for scene_id in split_scene_ids(split, num, start)]

"""Training clips on disk, as ``v4s-gen-data`` writes them and training reads them (numpy only: no torch).

A clip directory holds ``manifest.json`` and one ``.npz`` shard per (task, house) with
stacked arrays: ``context`` (N, Fc, H, W, 3) uint8, ``context_index`` (N, Fc),
``current`` (N, H, W, 3), ``target`` (N, Ft, H, W, 3), ``actions`` (N, Ft), ``poses``
(N, Ft + 1, 3) [x, z, yaw], ``relative`` (N, Ft, 4) [dx, dz, sin dyaw, cos dyaw],
``boxes`` (N, Ft, 4), ``goal`` (N, 4) [dx, dz, sin dyaw, cos dyaw] the episode's goal pose relative to
the current view (PoseNav; zeros, the null goal, for ObjectNav), ``instruction``, ``task``, ``scene_id``,
``episode_id`` (N,) strings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ARRAYS = ("context", "context_index", "current", "target", "actions", "poses", "relative", "boxes", "goal")
STRINGS = ("instruction", "task", "scene_id", "episode_id")


class ClipFileError(ValueError):
    """A clip directory or shard that cannot be read."""


def load_clips(root: str | Path, tasks: tuple[str, ...] | None = None, limit: int | None = None) -> dict[str, np.ndarray]:
    """All clips of ``root`` (optionally only some tasks, and at most ``limit`` per task), concatenated."""
    root = Path(root)
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise ClipFileError(f"no clips at {root}: {manifest} is missing (generate them with v4s-gen-data)")
    try:
        shards = json.loads(manifest.read_text())["shards"]
    except (json.JSONDecodeError, KeyError) as e:
        raise ClipFileError(f"{manifest}: not a clip manifest ({e})") from None
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ARRAYS + STRINGS}
    taken: dict[str, int] = {}
    for shard in shards:
        if tasks is not None and shard["task"] not in tasks:
            continue
        if limit is not None and taken.get(shard["task"], 0) >= limit:
            continue
        path = root / shard["path"]
        try:
            with np.load(path) as data:
                missing = [key for key in ARRAYS + STRINGS if key not in data.files]
                arrays = {} if missing else {key: data[key] for key in ARRAYS + STRINGS}
        except (OSError, KeyError, ValueError) as e:
            raise ClipFileError(f"{path}: cannot read clip shard ({type(e).__name__}: {e})") from None
        if missing:
            raise ClipFileError(f"{path}: clip shard without {missing} (written by an older v4s-gen-data); rerun "
                                f"v4s-gen-data with out={root}, which rewrites such shards")
        for key, value in arrays.items():
            parts[key].append(value)
        taken[shard["task"]] = taken.get(shard["task"], 0) + shard["num_clips"]
    if not parts["task"]:
        raise ClipFileError(f"no clips of tasks {tasks} in {root}")
    out = {k: np.concatenate(v) for k, v in parts.items()}
    if limit is not None:  # trim each task to the limit
        keep = np.concatenate([np.nonzero(out["task"] == t)[0][:limit] for t in dict.fromkeys(out["task"])])
        out = {k: v[np.sort(keep)] for k, v in out.items()}
    return out


def flip(clips: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mirror every clip left-right: frames and goal boxes flipped, lateral offsets and turns negated,
    turn actions swapped (a mirrored route is as valid as the original)."""
    out = dict(clips)
    for key in ("context", "current", "target"):
        out[key] = np.ascontiguousarray(clips[key][..., ::-1, :])
    for key in ("relative", "goal"):  # poses [dx, dz, sin dyaw, cos dyaw]: dx and sin dyaw change sign
        poses = clips[key].copy()
        poses[..., 0] *= -1.0
        poses[..., 2] *= -1.0
        out[key] = poses
    actions = clips["actions"].copy()
    actions[clips["actions"] == 2], actions[clips["actions"] == 3] = 3, 2
    out["actions"] = actions
    width = clips["target"].shape[-2]
    boxes = clips["boxes"].copy()  # x0, x1 mirrored about the frame's width; -1 (none) stays
    some = boxes[..., 0] >= 0
    boxes[..., 0][some], boxes[..., 2][some] = width - clips["boxes"][..., 2][some], width - clips["boxes"][..., 0][some]
    out["boxes"] = boxes
    return out


__all__ = ["ARRAYS", "STRINGS", "ClipFileError", "flip", "load_clips"]

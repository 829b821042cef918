"""What the video model takes as input, made from what an agent sees: frame size, context frames, poses.

Data generation (``v4s-gen-data``) and the planner both build the model's conditions with
these helpers, so that the model sees at inference what it was trained on.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from v4s.geometry import wrap_angle


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Box-filter (..., H, W, 3) uint8 frames to (..., size, size, 3) (a no-op at that size already)."""
    frames = np.asarray(frames)
    if frames.shape[-3:-1] == (size, size):
        return frames
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BOX)) for f in flat]) if len(flat) \
        else np.zeros((0, size, size, 3), np.uint8)
    return out.reshape(*frames.shape[:-3], size, size, 3)


def resize_depth(depth: np.ndarray, size: int) -> np.ndarray:
    """(H, W) or (H, W, 1) float32 metres -> (size, size), nearest neighbour (so no depth is invented at edges)."""
    depth = np.asarray(depth, np.float32).reshape(depth.shape[0], depth.shape[1])
    if depth.shape == (size, size):
        return depth
    return np.asarray(Image.fromarray(depth).resize((size, size), Image.NEAREST), np.float32)


def context_indices(length: int, count: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``count`` indices into ``length`` frames, one per stratum, so the sample is spread out and
    non-contiguous (Video4Spatial's context sampling): a random index in each stratum with ``rng``
    (training), the stratum's middle without (inference). Fewer frames than ``count`` repeat some."""
    if length < 1:
        raise ValueError(f"context_indices: no frames to choose from (length {length})")
    edges = np.linspace(0, length, count + 1)
    if rng is None:
        return np.array([int((a + b) / 2) for a, b in zip(edges[:-1], edges[1:])])
    return np.array([int(rng.integers(int(a), max(int(a) + 1, int(b)))) for a, b in zip(edges[:-1], edges[1:])])


def relative_poses(current: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Target poses (F, 3) [x, z, yaw] in the frame of the current pose (3,): (F, 4) [dx, dz, sin, cos]
    with dx to the right and dz backwards (Habitat's agent frame)."""
    c, s = math.cos(current[2]), math.sin(current[2])
    dx, dz = targets[:, 0] - current[0], targets[:, 1] - current[1]
    dyaw = np.array([wrap_angle(y - current[2]) for y in targets[:, 2]])
    return np.stack([c * dx - s * dz, s * dx + c * dz, np.sin(dyaw), np.cos(dyaw)], axis=1).astype(np.float32)


def integrate_actions(pose: np.ndarray, actions: np.ndarray, step: float, turn: float) -> np.ndarray:
    """Poses (F, 3) [x, z, yaw] after each of ``actions`` (F,) from ``pose`` (3,), by odometry: 1 moves
    ``step`` metres ahead, 2 turns ``turn`` radians left, 3 right, 0 stays (no collisions)."""
    x, z, yaw = (float(v) for v in pose)
    out = []
    for action in np.asarray(actions).tolist():
        if action == 1:
            x, z = x - step * math.sin(yaw), z - step * math.cos(yaw)
        elif action == 2:
            yaw = wrap_angle(yaw + turn)
        elif action == 3:
            yaw = wrap_angle(yaw - turn)
        out.append((x, z, yaw))
    return np.array(out, np.float64).reshape(-1, 3)


__all__ = ["context_indices", "integrate_actions", "relative_poses", "resize_depth", "resize_frames"]

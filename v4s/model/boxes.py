"""The auxiliary red box of object grounding: drawing it on training frames, finding it in generated ones.

Video4Spatial marks the target object in grounding videos with a red box, so that a
generated video says where the object is. The detector looks for a rectangle outline
of saturated red pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BOX_COLOR = (255, 0, 0)
BOX_THICKNESS = 2  #: pixels of the training clips' outline, at the model's resolution (thick enough to survive the VAE)


def draw_box(frame: np.ndarray, box: tuple[int, int, int, int], thickness: int = 1) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with a red outline around ``box`` (x0, y0, x1, y1), end exclusive, clipped to the
    frame (the pixels of :func:`outline_mask`; nothing where less than 2 px of it is inside)."""
    out = frame.copy()
    clipped = np.array([max(0, box[0]), max(0, box[1]), box[2], box[3]])
    out[outline_mask(clipped, out.shape[0], out.shape[1], thickness)] = BOX_COLOR
    return out


def outline_mask(boxes: np.ndarray, height: int, width: int | None = None, thickness: int = BOX_THICKNESS) -> np.ndarray:
    """(..., height, width) bool: the pixels :func:`draw_box` paints for ``boxes`` (..., 4) (x0, y0, x1, y1, end
    exclusive; a box with x0 < 0 is none) in a frame of ``height`` x ``width`` px (square when ``width`` is None)."""
    width = height if width is None else width
    boxes = np.asarray(boxes)
    x0, x1 = (np.clip(boxes[..., i, None, None], 0, width) for i in (0, 2))
    y0, y1 = (np.clip(boxes[..., i, None, None], 0, height) for i in (1, 3))
    ys, xs = np.arange(height)[:, None], np.arange(width)[None, :]
    inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    inner = (xs >= x0 + thickness) & (xs < x1 - thickness) & (ys >= y0 + thickness) & (ys < y1 - thickness)
    drawn = (boxes[..., 0] >= 0) & (x1[..., 0, 0] - x0[..., 0, 0] >= 2) & (y1[..., 0, 0] - y0[..., 0, 0] >= 2)
    return inside & ~inner & drawn[..., None, None]


def red_mask(frame: np.ndarray) -> np.ndarray:
    """Pixels (H, W) bool close to the box colour."""
    f = frame.astype(np.int16)
    return (f[..., 0] >= 170) & (f[..., 1] <= 90) & (f[..., 2] <= 90) & (f[..., 0] - f[..., 1] >= 110)


def detect_box(frame: np.ndarray, min_size: int = 3, min_outline: float = 0.5) -> tuple[int, int, int, int] | None:
    """The red box in ``frame`` (H, W, 3) uint8 as (x0, y0, x1, y1), or None.

    Takes the largest connected group of red pixels and keeps it when red covers at least
    ``min_outline`` of its bounding rectangle's outline (two pixels wide, for blurry generated
    boxes) and its inside is mostly not red (a red object is not a box)."""
    mask = red_mask(frame)
    if mask.sum() < 2 * min_size:
        return None
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = ndimage.sum(mask, labels, range(1, count + 1))
    rows, cols = np.nonzero(labels == int(np.argmax(sizes)) + 1)
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    if y1 - y0 < min_size or x1 - x0 < min_size:
        return None
    ring = np.zeros_like(mask)
    ring[y0:y1, x0:x1] = True
    inner = np.zeros_like(mask)
    inner[y0 + 2:y1 - 2, x0 + 2:x1 - 2] = True
    ring &= ~inner
    outline = mask[ring].mean()
    inside = mask[inner].mean() if inner.any() else 0.0
    if outline < min_outline or inside > 0.3:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def box_centered(box: tuple[int, int, int, int] | None, width: int, region: float = 0.5) -> bool:
    """Whether a box's horizontal centre lies in the central ``region`` of the frame width
    (the same rule as ObjectNav's centring success condition)."""
    if box is None:
        return False
    return abs((box[0] + box[2]) / 2.0 / width - 0.5) <= region / 2.0

"""The auxiliary red box: drawn boxes are found, red objects are not boxes."""

from __future__ import annotations

import numpy as np

from v4s.model.boxes import box_centered, detect_box, draw_box


def _scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(100, 200, (64, 64, 3), dtype=np.uint8)  # textured, never box-red


def test_drawn_boxes_are_detected():
    for box in [(10, 12, 30, 40), (40, 5, 60, 20), (20, 30, 26, 36)]:
        found = detect_box(draw_box(_scene(), box, thickness=2))
        assert found == box


def test_no_box_and_red_objects_are_not_boxes():
    assert detect_box(_scene()) is None
    frame = _scene()
    frame[20:40, 20:40] = (230, 20, 20)  # a red cushion: filled, not an outline
    assert detect_box(frame) is None


def test_blurred_box_survives():
    from scipy import ndimage

    frame = draw_box(_scene(1), (15, 15, 45, 50), thickness=2).astype(float)
    blurred = np.clip(ndimage.gaussian_filter(frame, sigma=(0.6, 0.6, 0)), 0, 255).astype(np.uint8)
    found = detect_box(blurred)
    assert found is not None and abs(found[0] - 15) <= 1 and abs(found[3] - 50) <= 1


def test_centring_uses_the_horizontal_centre():
    assert box_centered((24, 0, 40, 10), 64) and not box_centered((0, 30, 10, 40), 64) and not box_centered(None, 64)

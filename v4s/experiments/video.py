"""Episode videos: the agent's view beside a top-down map with the path so far and the goal.

Agents that imagine (the video agent) can add a panel of their latest imagined
frame with ``add(..., imagined=frame)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from v4s.envs.topdown import TopDownMap
from v4s.fileio import atomic_path

PANEL = 256  #: height of every panel, pixels


def _panel(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    width = max(2, int(round(w * PANEL / h)) // 2 * 2)
    return np.asarray(Image.fromarray(image).resize((width, PANEL), Image.NEAREST if h < PANEL else Image.BILINEAR))


class EpisodeVideo:
    """Frames of one episode, written as an mp4 when it ends."""

    def __init__(self, reset_info: Mapping[str, Any], fps: int = 10):
        self.map = TopDownMap.from_dict(reset_info["topdown"])
        self.goals = [g["position"] for g in reset_info["goals"]]
        self.fps = fps
        self.positions: list[np.ndarray] = []
        self.frames: list[np.ndarray] = []

    def add(self, rgb: np.ndarray, info: Mapping[str, Any], imagined: np.ndarray | None = None) -> None:
        """Append the view after a step, with that step's info (position, heading)."""
        self.positions.append(np.asarray(info["position"], dtype=np.float64))
        panels = [_panel(rgb)]
        if imagined is not None:
            panels.append(_panel(imagined))
        panels.append(_panel(self.map.draw(np.array(self.positions), float(info["heading"]), self.goals)))
        self.frames.append(np.concatenate(panels, axis=1))

    def write(self, path: str | Path) -> Path:
        from moviepy import ImageSequenceClip

        path = Path(path)
        clip = ImageSequenceClip(list(self.frames), fps=self.fps)
        with atomic_path(path) as tmp:
            clip.write_videofile(str(tmp), codec="libx264", audio=False, logger=None,
                                 ffmpeg_params=["-pix_fmt", "yuv420p"])
        return path

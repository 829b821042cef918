"""Training clips in memory: their frames encoded once into latents (the clips on disk: :mod:`v4s.model.clips`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from v4s.model.vae import encode_frames


@dataclass
class LatentClips:
    """Clips with frames encoded once: context (N, C, Fc, h, w), current (N, C, 1, h, w), target (N, C, Ft, h, w)."""

    context: torch.Tensor
    current: torch.Tensor
    target: torch.Tensor
    context_index: torch.Tensor  #: (N, Fc) tour positions
    pose: torch.Tensor  #: (N, Ft, 4) relative target poses
    goal: torch.Tensor  #: (N, 4) the goal pose relative to the current view (zeros: none)
    boxes: torch.Tensor  #: (N, Ft, 4) the goal's red box per target frame, pixels (x0, y0, x1, y1); x0 = -1: none
    instruction: list[str]
    task: list[str]

    def __len__(self) -> int:
        return len(self.task)

    @classmethod
    def concat(cls, parts: list[LatentClips]) -> LatentClips:
        return cls(**{name: torch.cat([getattr(p, name) for p in parts])
                      if isinstance(getattr(parts[0], name), torch.Tensor) else sum((getattr(p, name) for p in parts), [])
                      for name in cls.__dataclass_fields__})

    def batch(self, index: torch.Tensor) -> dict:
        idx = index.tolist()
        return {"context": self.context[index], "current": self.current[index], "target": self.target[index],
                "context_index": self.context_index[index], "pose": self.pose[index], "goal": self.goal[index],
                "boxes": self.boxes[index],
                "instruction": [self.instruction[i] for i in idx], "task": [self.task[i] for i in idx]}


def encode_clips(vae: torch.nn.Module, clips: dict[str, np.ndarray], batch_size: int = 64) -> LatentClips:
    """Encode every frame of ``clips`` with ``vae`` (posterior means), in batches."""
    def encode(frames: np.ndarray) -> torch.Tensor:
        return torch.cat([encode_frames(vae, frames[i:i + batch_size]).cpu() for i in range(0, len(frames), batch_size)])

    return LatentClips(context=encode(clips["context"]), current=encode(clips["current"][:, None]),
                       target=encode(clips["target"]), context_index=torch.as_tensor(clips["context_index"]),
                       pose=torch.as_tensor(clips["relative"]), goal=torch.as_tensor(clips["goal"]),
                       boxes=torch.as_tensor(clips["boxes"].astype(np.int64)),
                       instruction=list(clips["instruction"]), task=list(clips["task"]))

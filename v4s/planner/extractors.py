"""Action extraction: imagined frames -> discrete actions, each with a confidence.

An extractor reads a video of a route, the current view first, as the actions that
lead from each frame to the next: 0 no motion (STOP, or blocked), 1 move_forward,
2 turn_left, 3 turn_right (the env's action ids). Both report a confidence per step
in [0, 1].

- :class:`InverseDynamicsModel`: a small CNN on two consecutive frames (learned; see
  ``v4s-train-idm``).
- :class:`GeometricExtractor`: no learning, in the spirit of AVDC: every action
  hypothesis moves the camera by a known amount; the current depth and the camera's
  intrinsics reproject the frame under each hypothesis, and the hypothesis whose warp
  best explains the next frame wins. The depth is carried along the chosen motions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from v4s.actions import FORWARD, LEFT, NO_MOTION, RIGHT
from v4s.model.weights import check_finite_weights

IDM_LABELS = ("no_motion", "move_forward", "turn_left", "turn_right")  #: the IDM's classes, by action id


@runtime_checkable
class ActionExtractor(Protocol):
    """``extract(videos, depth)``: videos (B, F + 1, H, W, 3) uint8 (the current view, then F imagined
    frames), depth (B, H, W) float32 metres of the current views (None when an extractor needs none)
    -> actions (B, F) int64 and confidence (B, F) float32."""

    def extract(self, videos: np.ndarray, depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


# ---------------------------------------------------------------------- learned
class InverseDynamicsModel(ModelMixin, ConfigMixin):
    """Two consecutive frames -> logits over the four actions.

    Input: (B, 6, H, W) float in [-1, 1], the earlier frame's channels first. A strided CNN over both
    frames and their difference (motion is what it must see), down to a 4 x 4 grid that keeps where
    things moved (a turn shifts the image sideways, a step forward expands it from the centre), then
    an MLP head. Saves and loads in diffusers' layout (``save_pretrained`` / ``from_pretrained``).
    """

    @register_to_config
    def __init__(self, resolution: int = 64, channels: tuple[int, ...] = (32, 64, 96, 128), num_actions: int = 4,
                 hidden: int = 256):
        super().__init__()
        layers: list[nn.Module] = []
        width = 9  # both frames and their difference
        for out in channels:
            layers += [nn.Conv2d(width, out, 3, stride=2, padding=1), nn.GroupNorm(8, out), nn.SiLU(),
                       nn.Conv2d(out, out, 3, padding=1), nn.GroupNorm(8, out), nn.SiLU()]
            width = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * 16, hidden), nn.SiLU(), nn.Linear(hidden, num_actions))

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        a, b = pairs[:, :3], pairs[:, 3:]
        return self.head(self.features(torch.cat([a, b, b - a], dim=1)))

    @staticmethod
    def to_pairs(first: np.ndarray, second: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        """(N, H, W, 3) uint8 frame pairs -> (N, 6, H, W) float in [-1, 1]."""
        pair = np.concatenate([first, second], axis=-1)
        return torch.as_tensor(pair, device=device).permute(0, 3, 1, 2).float() / 127.5 - 1.0

    @torch.no_grad()
    def extract(self, videos: np.ndarray, depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        videos = np.asarray(videos)
        b, f1 = videos.shape[:2]
        first = videos[:, :-1].reshape(-1, *videos.shape[2:])
        second = videos[:, 1:].reshape(-1, *videos.shape[2:])
        probs = self(self.to_pairs(first, second, self.device)).softmax(-1).cpu().numpy()
        actions = probs.argmax(-1)
        confidence = probs.max(-1)
        return actions.reshape(b, f1 - 1).astype(np.int64), confidence.reshape(b, f1 - 1).astype(np.float32)


# ---------------------------------------------------------------------- geometric
class GeometricExtractor:
    """Action hypotheses tested by reprojection with depth and the camera's intrinsics.

    Args:
        hfov: horizontal field of view, degrees.
        forward_step: metres of one move_forward.
        turn_angle: degrees of one turn.
        temperature: the mean absolute colour error (0..1) that separates hypotheses by a factor e
            in the confidence's softmax.
    """

    def __init__(self, hfov: float, forward_step: float, turn_angle: float, temperature: float = 0.01):
        self.hfov = math.radians(hfov)
        self.forward_step = forward_step
        self.turn = math.radians(turn_angle)
        self.temperature = temperature

    def _motion(self, action: int) -> tuple[float, float]:
        """(yaw change, metres ahead) of an action."""
        return {NO_MOTION: (0.0, 0.0), FORWARD: (0.0, self.forward_step), LEFT: (self.turn, 0.0),
                RIGHT: (-self.turn, 0.0)}[action]

    def warp(self, frame: np.ndarray, depth: np.ndarray, action: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``frame`` (H, W, 3) uint8 and its z-depth (H, W) seen after ``action``, by forward splatting with
        a z-buffer: colour (H, W, 3) float, depth (H, W) (0 where nothing landed) and the mask of pixels hit."""
        h, w = depth.shape
        focal = (w / 2.0) / math.tan(self.hfov / 2.0)
        v, u = np.mgrid[0:h, 0:w].astype(np.float64)
        z = depth.astype(np.float64)
        valid = z > 0
        # camera frame: x right, y up, the camera looks down -z; depth is the distance along -z
        x = (u + 0.5 - w / 2.0) / focal * z
        y = -(v + 0.5 - h / 2.0) / focal * z
        dyaw, ahead = self._motion(action)
        # the new camera sits ``ahead`` metres along -z, turned dyaw (left positive) about y
        px, pz = x, -z + ahead
        c, s = math.cos(dyaw), math.sin(dyaw)
        nx, nz = c * px - s * pz, s * px + c * pz
        depth_new = -nz
        ok = valid & (depth_new > 1e-3)
        nu = np.floor(nx[ok] / depth_new[ok] * focal + w / 2.0).astype(np.int64)
        nv = np.floor(-y[ok] / depth_new[ok] * focal + h / 2.0).astype(np.int64)
        inside = (nu >= 0) & (nu < w) & (nv >= 0) & (nv < h)
        nu, nv = nu[inside], nv[inside]
        dz = depth_new[ok][inside]
        colour = frame.reshape(-1, 3)[ok.reshape(-1)][inside].astype(np.float64)
        order = np.argsort(-dz)  # far first, so nearer points overwrite them
        flat = nv[order] * w + nu[order]
        out = np.zeros((h * w, 3))
        out_depth = np.zeros(h * w)
        out[flat] = colour[order]
        out_depth[flat] = dz[order]
        hit = np.zeros(h * w, bool)
        hit[flat] = True
        return out.reshape(h, w, 3), out_depth.reshape(h, w), hit.reshape(h, w)

    def extract(self, videos: np.ndarray, depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if depth is None:
            raise ValueError("the geometric extractor needs the current depth (B, H, W) in metres")
        videos = np.asarray(videos)
        b, f1 = videos.shape[:2]
        actions = np.zeros((b, f1 - 1), np.int64)
        confidence = np.zeros((b, f1 - 1), np.float32)
        for i in range(b):
            z = np.asarray(depth[i], np.float64)
            for k in range(f1 - 1):
                frame, target = videos[i, k], videos[i, k + 1].astype(np.float64)
                errors, warps = [], []
                for action in (NO_MOTION, FORWARD, LEFT, RIGHT):
                    colour, new_depth, hit = self.warp(frame, z, action)
                    # pixels nothing landed on (newly seen at the border) count as the frame's mean error
                    diff = np.abs(colour - target).mean(-1) / 255.0
                    errors.append(float(np.where(hit, diff, diff[hit].mean() if hit.any() else 1.0).mean()))
                    warps.append(new_depth)
                errors = np.array(errors)
                weights = np.exp(-(errors - errors.min()) / self.temperature)
                best = int(errors.argmin())
                actions[i, k] = best
                confidence[i, k] = weights[best] / weights.sum()
                z = _fill_holes(warps[best], z)
        return actions, confidence


def _fill_holes(depth: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Depth where the splat left holes: each hole takes its row's median of what landed (or the previous
    depth's median), so that the next step still has a depth everywhere."""
    out = depth.copy()
    for r in range(depth.shape[0]):
        row = depth[r]
        known = row > 0
        fill = np.median(row[known]) if known.any() else np.median(previous[previous > 0]) \
            if (previous > 0).any() else 1.0
        out[r, ~known] = fill
    return out


def load_idm(path: str | Path) -> InverseDynamicsModel:
    """The IDM checkpoint at ``path``; a missing one, or one with NaN or infinite weights, is an error that
    names the path."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"inverse-dynamics checkpoint not found: {path} (no config.json); train one with "
                                "v4s-train-idm")
    model = InverseDynamicsModel.from_pretrained(path).eval()
    check_finite_weights(model, path)
    return model


def make_extractor(name: str, idm: InverseDynamicsModel | None, hfov: float, forward_step: float,
                   turn_angle: float) -> ActionExtractor:
    """The extractor ``name`` ("idm" or "geometric")."""
    if name == "idm":
        if idm is None:
            raise ValueError("extractor=idm needs an inverse-dynamics model checkpoint (agent.idm)")
        return idm
    if name == "geometric":
        return GeometricExtractor(hfov, forward_step, turn_angle)
    raise ValueError(f"agent.extractor: unknown extractor {name!r}; valid extractors are ['idm', 'geometric']")


__all__ = ["IDM_LABELS", "ActionExtractor", "GeometricExtractor", "InverseDynamicsModel", "load_idm", "make_extractor"]

"""Planar agent geometry shared by the world (``envs``) and the model (``model``): Habitat's agent frame.

The agent frame of an agent turned ``yaw`` radians (counter-clockwise about +y, seen from
above) has x to the right, y up and z backwards, so the agent looks down -z. World poses
are (x, z, yaw) on the floor plane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def wrap_angle(angle: float) -> float:
    """Radians in [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def to_agent_frame(vector: Sequence[float], yaw: float) -> np.ndarray:
    """A world vector (3,) in the frame of an agent turned ``yaw`` radians (x right, y up, z back)."""
    c, s = math.cos(yaw), math.sin(yaw)
    x, y, z = (float(v) for v in vector)
    return np.array([c * x - s * z, y, s * x + c * z])


def from_agent_frame(vector: Sequence[float], yaw: float) -> np.ndarray:
    """The inverse of :func:`to_agent_frame`: a vector (3,) in the agent's frame, in the world."""
    c, s = math.cos(yaw), math.sin(yaw)
    x, y, z = (float(v) for v in vector)
    return np.array([c * x + s * z, y, -s * x + c * z])


__all__ = ["from_agent_frame", "to_agent_frame", "wrap_angle"]

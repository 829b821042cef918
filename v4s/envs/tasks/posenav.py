"""PoseNav (scene navigation): reach a camera pose given relative to the start pose.

The instruction is the goal pose in the start's agent frame (Habitat's: x right,
z backwards, so ahead is -z) plus the heading change, also as text. Success is
STOP within ``success_distance`` (geodesic) of the goal position and, when
``heading_tolerance`` is set, facing the goal heading within that many degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from v4s.geometry import to_agent_frame, wrap_angle


def relative_pose_instruction(start: Sequence[float], start_yaw: float, goal: Sequence[float],
                              goal_yaw: float) -> dict[str, Any]:
    """The instruction of a PoseNav episode: relative position (start frame), heading change, and text."""
    local = to_agent_frame(np.asarray(goal, dtype=np.float64) - np.asarray(start, dtype=np.float64), start_yaw)
    dyaw = math.degrees(wrap_angle(goal_yaw - start_yaw))
    forward, right = -local[2], local[0]
    parts = []
    if abs(forward) >= 0.05:
        parts.append(f"{abs(forward):.1f} m {'forward' if forward > 0 else 'back'}")
    if abs(right) >= 0.05:
        parts.append(f"{abs(right):.1f} m to the {'right' if right > 0 else 'left'}")
    text = "Move " + " and ".join(parts) if parts else "Stay where you are"
    turn = round(dyaw)
    text += f", then turn {abs(turn)} degrees to the {'left' if turn > 0 else 'right'}." if turn else \
        ", keeping your heading."
    return {"instruction_text": text, "relative_position": [round(float(v), 4) for v in local],
            "relative_yaw": round(dyaw, 2)}


def pointgoal_with_gps_compass(position: Sequence[float], yaw: float, goal: Sequence[float]) -> np.ndarray:
    """habitat's PointGoalWithGPSCompassSensor, polar: [distance, angle] of the goal from the agent,
    the angle positive to the agent's left. (2,) float32."""
    local = to_agent_frame(np.asarray(goal, dtype=np.float64) - np.asarray(position, dtype=np.float64), yaw)
    rho = math.hypot(local[0], local[2])
    phi = math.atan2(local[0], -local[2])
    return np.array([rho, -phi], dtype=np.float32)


def heading_reached(yaw: float, goal_yaw: float, tolerance_deg: float | None) -> bool:
    """Whether ``yaw`` is within ``tolerance_deg`` of ``goal_yaw`` (always, without a tolerance)."""
    return tolerance_deg is None or abs(math.degrees(wrap_angle(yaw - goal_yaw))) <= tolerance_deg

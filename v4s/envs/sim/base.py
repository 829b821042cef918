"""The simulator contract shared by every backend.

Coordinates follow Habitat: metres, y up, the agent looks down -z, rotations
are quaternions ``[x, y, z, w]``. The agent is a cylinder that only yaws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from v4s.actions import ACTION_NAMES
from v4s.envs.scenes.mesh import SceneFileError
from v4s.envs.scenes.semantic import SceneObject
from v4s.envs.scenes.spec import glb_stem
from v4s.geometry import wrap_angle  # noqa: F401  (re-exported with the other pose helpers)
from v4s.typed_config import build

#: Habitat's discrete navigation actions understood by every simulator backend.
#: ``stop`` is a task-level action and never reaches the simulator.
SIM_ACTIONS: tuple[str, ...] = ACTION_NAMES[1:]  #: what a simulator steps (STOP is the env's, not a motion)

#: Sensor names and what they hold.
SENSOR_TYPES: tuple[str, ...] = ("rgb", "depth", "semantic")


class InvalidActionError(ValueError):
    """An action name the simulator does not know."""


class NotNavigableError(ValueError):
    """An agent placed where it cannot stand."""


@dataclass
class SimConfig:
    """Everything a backend needs to build sensors and the agent.

    Defaults follow habitat-lab's ObjectNav benchmark config
    (``habitat/config/benchmark/nav/objectnav/objectnav_hm3d.yaml``).
    """

    width: int = 128  #: sensor width in pixels
    height: int = 128  #: sensor height in pixels
    hfov: float = 79.0  #: horizontal field of view, degrees
    sensor_height: float = 0.88  #: camera height above the agent's feet, metres
    sensors: tuple[str, ...] = ("rgb", "depth", "semantic")
    agent_radius: float = 0.18  #: metres
    agent_height: float = 0.88  #: metres
    forward_step_size: float = 0.25  #: metres per move_forward
    turn_angle: float = 30.0  #: degrees per turn_left / turn_right
    max_climb: float = 0.2  #: tallest step the agent walks over, metres
    max_slope: float = 45.0  #: steepest walkable floor, degrees
    nav_cell_size: float = 0.05  #: navigation grid resolution, metres
    #: "auto" (lit: v4s houses, and surfaces with only a material colour; textured or vertex-coloured scans are
    #: flat, like Habitat), "on" or "off"
    lighting: str = "auto"
    max_texture_size: int = 512  #: textures are resampled to at most this size
    zfar: float = 100.0  #: far clipping plane, metres
    gpu_device_id: int = 0  #: EGL device to render on
    allow_sliding: bool = True  #: slide along walls on collision, like habitat-sim
    #: habitat's scenes_dir: relative scene paths of episodes are read under it (None: the working directory)
    scenes_dir: str | None = None

    def __post_init__(self) -> None:
        self.sensors = tuple(self.sensors)
        unknown = [s for s in self.sensors if s not in SENSOR_TYPES]
        if unknown:
            raise ValueError(f"sim.sensors: unknown sensor(s) {unknown}; valid sensors are {list(SENSOR_TYPES)}")
        for name in ("width", "height"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"sim.{name} must be a positive number of pixels, got {getattr(self, name)}")
        if not 0.0 < self.hfov < 180.0:
            raise ValueError(f"sim.hfov must be in (0, 180) degrees, got {self.hfov}")
        if self.lighting not in ("auto", "on", "off"):
            raise ValueError(f"sim.lighting must be 'auto', 'on' or 'off', got {self.lighting!r}")
        for name in ("agent_radius", "agent_height", "forward_step_size", "turn_angle", "nav_cell_size"):
            if not getattr(self, name) > 0:
                raise ValueError(f"sim.{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SimConfig:
        """Build from a dict or an OmegaConf node; an unknown key or a value of the wrong type is an error
        naming ``sim.<field>``."""
        if not isinstance(values, Mapping):
            values = dict(values)
        return build(cls, values, "sim", ignore=("backend", "_target_"))


@dataclass
class AgentState:
    """Where the agent stands: ``position`` (3,) metres at its feet, ``rotation`` (4,) [x, y, z, w]."""

    position: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 0.0, 1.0]))


@dataclass
class ShortestPath:
    """Habitat-sim's ``ShortestPath``: fill ``requested_start``/``requested_end``, then ``find_path``."""

    requested_start: np.ndarray | None = None
    requested_end: np.ndarray | None = None
    points: list[np.ndarray] = field(default_factory=list)
    geodesic_distance: float = math.inf


@dataclass
class MultiGoalShortestPath:
    """Habitat-sim's ``MultiGoalShortestPath``: the shortest path to the nearest of ``requested_ends``."""

    requested_start: np.ndarray | None = None
    requested_ends: list[np.ndarray] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)
    geodesic_distance: float = math.inf
    closest_end_point_index: int = -1


@runtime_checkable
class PathFinder(Protocol):
    """Habitat-sim's PathFinder names and meanings (the subset v4s relies on)."""

    def is_navigable(self, pt: Sequence[float], max_y_delta: float = 0.5) -> bool: ...

    def snap_point(self, pt: Sequence[float]) -> np.ndarray: ...

    def get_random_navigable_point(self) -> np.ndarray: ...

    def seed(self, new_seed: int) -> None: ...

    def find_path(self, path: ShortestPath | MultiGoalShortestPath) -> bool: ...

    def geodesic_distance(self, start: Sequence[float], end: Sequence[float] | Sequence[Sequence[float]]) -> float: ...

    def get_bounds(self) -> tuple[np.ndarray, np.ndarray]: ...

    def island_radius(self, pt: Sequence[float]) -> float: ...

    def try_step(self, start: Sequence[float], end: Sequence[float]) -> np.ndarray: ...

    def try_step_no_sliding(self, start: Sequence[float], end: Sequence[float]) -> np.ndarray: ...

    def get_topdown_view(self, meters_per_pixel: float, height: float) -> np.ndarray: ...

    @property
    def navigable_area(self) -> float: ...


@runtime_checkable
class Simulator(Protocol):
    """What the envs need from a simulator backend.

    Observations are a dict of numpy arrays: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W, 1)
    float32 metres along the optical axis (0 where nothing was hit), ``semantic`` (H, W)
    int32 object ids (0 is background), plus ``collided`` (bool) after a step.
    """

    config: SimConfig

    def load_scene(self, scene: Any) -> None: ...

    def set_agent_state(self, position: Sequence[float], rotation: Sequence[float] | None = None) -> None: ...

    @property
    def agent_state(self) -> AgentState: ...

    def step(self, action: str) -> dict[str, Any]: ...

    def observe(self) -> dict[str, Any]: ...

    @property
    def pathfinder(self) -> PathFinder: ...

    @property
    def objects(self) -> list[SceneObject]: ...

    @property
    def previous_step_collided(self) -> bool: ...

    def close(self) -> None: ...


def check_action(action: str) -> str:
    """Return ``action`` if it is a simulator action, else raise naming the valid ones."""
    if action not in SIM_ACTIONS:
        raise InvalidActionError(f"unknown action {action!r}; valid actions are {list(SIM_ACTIONS)}")
    return action


def not_navigable_error(position: np.ndarray, snapped: np.ndarray, scene_id: str, agent_radius: float,
                        navigation: str = "navigable area") -> NotNavigableError:
    """The error for an agent placed at ``position``; ``snapped`` (NaNs if none) is offered as the fix."""
    hint = "" if not np.all(np.isfinite(snapped)) else \
        f"; the nearest navigable point is {np.round(snapped, 3).tolist()}"
    return NotNavigableError(f"position {np.round(position, 3).tolist()} is not on the {navigation} of scene "
                             f"{scene_id!r} for an agent of radius {agent_radius} m{hint}")


def no_navigable_area_error(spec: Any, config: SimConfig, detail: str = "") -> SceneFileError:
    """The error for a scene in which an agent of ``config`` has nowhere to stand (every backend raises it): names
    the file and what to check (up axis and scale in the stage config, a floor, ``floor_height``)."""
    stem = glb_stem(spec.glb)
    return SceneFileError(
        f"{spec.collision or spec.glb}: no navigable area for an agent of radius {config.agent_radius} m and "
        f"height {config.agent_height} m{': ' + detail if detail else ''}. Check the up axis (the scene was read "
        f"with up {list(spec.up)}; z-up scans need \"up\": [0, 0, 1], \"front\": [0, 1, 0] in "
        f"{stem}.stage_config.json) and the scale (v4s expects metres; a model in centimetres needs "
        f"\"scale\": [0.01, 0.01, 0.01] there), and that the scene has a floor; or give the floor's height "
        f"as floor_height (metres) in {stem}.semantic.json")


def yaw_to_quaternion(yaw: float) -> np.ndarray:
    """Rotation by ``yaw`` radians about +y (counter-clockwise seen from above) as [x, y, z, w]."""
    return np.array([0.0, math.sin(yaw / 2.0), 0.0, math.cos(yaw / 2.0)])


def quaternion_to_yaw(rotation: Sequence[float], *, field_name: str = "rotation") -> float:
    """Yaw in radians of a quaternion [x, y, z, w] that rotates about +y only.

    Raises ValueError naming ``field_name`` for a quaternion with pitch or roll, since
    the agent only yaws.
    """
    q = np.asarray(rotation, dtype=np.float64).reshape(-1)
    if q.shape != (4,) or not np.all(np.isfinite(q)):
        raise ValueError(f"{field_name} must be a quaternion [x, y, z, w] of 4 finite numbers, got {rotation!r}")
    norm = float(np.linalg.norm(q))
    if norm < 1e-8:
        raise ValueError(f"{field_name} must be a unit quaternion [x, y, z, w], got the zero vector")
    x, y, z, w = q / norm
    if abs(x) > 1e-4 or abs(z) > 1e-4:
        raise ValueError(f"{field_name} {list(map(float, q))} tilts the agent; the agent only rotates about +y")
    return 2.0 * math.atan2(y, w)


def heading_vector(yaw: float) -> np.ndarray:
    """Unit vector the agent looks along (its -z axis) for ``yaw`` radians: (3,)."""
    return np.array([-math.sin(yaw), 0.0, -math.cos(yaw)])



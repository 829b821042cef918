"""HabitatSim: the :class:`~v4s.envs.sim.base.Simulator` contract on the real habitat-sim.

``habitat_sim`` is imported when a HabitatSim (or a pathfinder) is made, so this module imports
without it. Where habitat-sim 0.2.x and 0.3.x differ, :class:`HabitatVersion` decides, from
``habitat_sim.__version__``. The design (stage configs, semantics, navmesh heights, islands, the
render device, versions): docs/habitat.md.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import math
import os
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from v4s.envs.scenes.semantic import SceneMetadata, SceneObject, load_semantic
from v4s.envs.scenes.spec import SceneSpec, resolve_scene
from v4s.envs.sim.base import (
    AgentState,
    MultiGoalShortestPath,
    ShortestPath,
    SimConfig,
    check_action,
    no_navigable_area_error,
    not_navigable_error,
    quaternion_to_yaw,
    yaw_to_quaternion,
)
from v4s.envs.sim.habitat.export import export_habitat_semantics, write_stage_config
from v4s.fileio import atomic_path

#: how habitat-sim is installed (it is not on PyPI in a working form)
CONDA_INSTALL = "conda install -c aihabitat -c conda-forge habitat-sim withbullet headless"

#: the habitat-sim versions the backend knows: the oldest it runs on, and the newest series it follows
OLDEST_VERSION = (0, 2, 2)

#: recast quantises navmesh heights to ``cell_height``; habitat's default (0.2 m) lifts the agent's feet,
#: and with them its camera, up to 0.2 m above the floor. 1 cm keeps the camera where the embedded one is.
NAVMESH_CELL_HEIGHT = 0.01

#: how many draws get_random_navigable_point makes to land on the agent's island (habitat-sim 0.2.x)
ISLAND_DRAWS = 1000
#: where snap_point looks for the agent's island around a point that snaps to another one (0.2.x), metres
SNAP_RING_STEP, SNAP_RING_RADIUS = 0.25, 3.0

#: EGL_NV_device_cuda: the attribute that maps an EGL device to its CUDA device id
_EGL_CUDA_DEVICE_NV = 0x323A

logger = logging.getLogger(__name__)


def _import_habitat_sim() -> Any:
    # habitat-sim and Magnum log every asset load to stdout; habitat-lab users run them quiet too
    os.environ.setdefault("HABITAT_SIM_LOG", "quiet")
    os.environ.setdefault("MAGNUM_LOG", "quiet")
    try:
        import habitat_sim
    except ImportError as e:
        raise ImportError(
            "the habitat backend needs habitat-sim, which is installed with conda, not pip:\n"
            f"    {CONDA_INSTALL}\n"
            "or create the whole environment from this repository's environment.yml:\n"
            "    conda env create -f environment.yml && conda activate v4s\n"
            f"(import failed: {e}). Without habitat-sim, use the embedded backend (sim.backend=embedded)."
        ) from e
    return habitat_sim


# ====================================================================== versions


@dataclass(frozen=True)
class HabitatVersion:
    """What of habitat-sim's API differs between the versions the backend supports.

    Tested on 0.2.2; the 0.3.x branches follow 0.3's bindings (``ShortestPathBindings.cpp``)."""

    version: tuple[int, int, int]

    @classmethod
    def parse(cls, text: str) -> HabitatVersion:
        """From ``habitat_sim.__version__`` ("0.2.2a2", "0.3.3"); an older one is an ImportError naming it."""
        match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", str(text))
        if match is None:
            raise ImportError(f"habitat_sim.__version__ is {text!r}, not a version number; the habitat backend "
                              f"needs habitat-sim {'.'.join(map(str, OLDEST_VERSION))} or newer")
        version = tuple(int(v or 0) for v in match.groups())
        if version < OLDEST_VERSION:
            raise ImportError(f"habitat-sim {text} is too old for the habitat backend, which needs "
                              f"{'.'.join(map(str, OLDEST_VERSION))} or newer (tested: 0.2.2, 0.3.x by its API): "
                              f"{CONDA_INSTALL}")
        return cls(version)  # type: ignore[arg-type]

    @property
    def has_islands(self) -> bool:
        """0.3: ``PathFinder.num_islands``, ``island_radius(island_index=)`` and the ``island_index`` argument
        of ``get_random_navigable_point`` / ``snap_point``. 0.2 knows islands only by ``island_radius(pt)``."""
        return self.version >= (0, 3, 0)

    @property
    def has_closest_end_point_index(self) -> bool:
        """0.3: ``MultiGoalShortestPath.closest_end_point_index``; 0.2 leaves it to the path's last point."""
        return self.version >= (0, 3, 0)

    @property
    def has_include_static_objects(self) -> bool:
        """0.3: ``NavMeshSettings.include_static_objects``; 0.2 takes it as an argument of recompute_navmesh."""
        return self.version >= (0, 3, 0)


# ====================================================================== the render device


def egl_cuda_devices() -> set[int] | None:
    """The CUDA device ids of this machine's EGL devices (``EGL_NV_device_cuda``): the devices habitat-sim
    can render on for a ``gpu_device_id >= 0``. Empty on a machine without an NVIDIA GPU; None when
    there is no libEGL."""
    try:
        egl = ctypes.CDLL("libEGL.so.1")
    except OSError:
        return None
    egl.eglGetProcAddress.restype = ctypes.c_void_p
    egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    query_devices_at = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
    query_attrib_at = egl.eglGetProcAddress(b"eglQueryDeviceAttribEXT")
    if not query_devices_at or not query_attrib_at:
        return set()
    query_devices = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                     ctypes.POINTER(ctypes.c_int))(query_devices_at)
    query_attrib = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_void_p, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_ssize_t))(query_attrib_at)
    count = ctypes.c_int(0)
    if not query_devices(0, None, ctypes.byref(count)) or count.value <= 0:
        return set()
    devices = (ctypes.c_void_p * count.value)()
    if not query_devices(count.value, devices, ctypes.byref(count)):
        return set()
    found = set()
    for device in devices[:count.value]:
        value = ctypes.c_ssize_t(-1)
        if query_attrib(device, _EGL_CUDA_DEVICE_NV, ctypes.byref(value)):
            found.add(int(value.value))
    return found


def habitat_gpu_device(requested: int, cuda_devices: set[int] | None) -> int:
    """The ``gpu_device_id`` to hand habitat-sim for ``sim.gpu_device_id = requested``.

    habitat-sim renders device ``requested >= 0`` on the EGL device of that CUDA device, and exits the
    process, with no Python error, when there is none ("unable to find EGL device for CUDA device 0").
    So: a CUDA device with EGL is used as asked; -1 (habitat's "no CUDA device": the default EGL device,
    Mesa's llvmpipe on a CPU machine) stays -1; without CUDA, 0 (the default) becomes -1; any other
    device is an error naming ``sim.gpu_device_id``. ``HSIM_DISABLE_CUDA_DEVICE=1`` (a build that picks EGL
    devices by index) passes ``requested`` through."""
    if requested < 0 or os.environ.get("HSIM_DISABLE_CUDA_DEVICE", "0") not in ("", "0"):
        return requested
    if cuda_devices is not None and requested in cuda_devices:
        return requested
    if requested == 0:
        return -1
    have = sorted(cuda_devices) if cuda_devices else "none"
    raise ValueError(f"sim.gpu_device_id={requested}: this machine has no EGL device for CUDA device {requested} "
                     f"(CUDA devices with EGL: {have}), and habitat-sim would exit inside context creation. "
                     "Set sim.gpu_device_id to one of those, or to 0 or -1 to render on the default EGL device "
                     "(Mesa's llvmpipe on a machine without CUDA)")


# ====================================================================== the navmesh


def _navmesh_fields(config: SimConfig) -> dict[str, float]:
    """habitat's NavMeshSettings fields that v4s sets for the agent of ``config`` (ShortestPathBindings.cpp)."""
    return {"agent_radius": float(config.agent_radius), "agent_height": float(config.agent_height),
            "agent_max_climb": float(config.max_climb), "agent_max_slope": float(config.max_slope),
            "cell_size": float(config.nav_cell_size), "cell_height": NAVMESH_CELL_HEIGHT}


def navmesh_settings(habitat_sim: Any, version: HabitatVersion, config: SimConfig) -> Any:
    """habitat's ``NavMeshSettings`` for the agent of ``config``: habitat's defaults, then ours."""
    settings = habitat_sim.nav.NavMeshSettings()
    settings.set_defaults()
    for name, value in _navmesh_fields(config).items():
        setattr(settings, name, value)
    if version.has_include_static_objects:  # physics is off: nothing static to add
        settings.include_static_objects = False
    return settings


def stage_config_of(spec: SceneSpec) -> Path:
    """The stage config habitat-sim loads for ``spec`` (written when missing or stale)."""
    return export_habitat_semantics(spec) if spec.semantic is not None else write_stage_config(spec)


def navmesh_file(spec: SceneSpec, config: SimConfig) -> Path:
    """Where the navmesh of ``spec`` for the agent of ``config`` is kept: beside its stage config, named by
    the navmesh settings. A HabitatSim writes it the first time it builds it, and loads it after that."""
    stage = stage_config_of(spec)
    digest = hashlib.sha1(json.dumps(_navmesh_fields(config), sort_keys=True).encode()).hexdigest()[:10]
    stem = stage.name[: -len(".stage_config.json")]
    return stage.with_name(f"{stem}.{digest}.navmesh")


def _navmesh_fresh(navmesh: Path, stage: Path) -> bool:
    return navmesh.is_file() and navmesh.stat().st_mtime >= stage.stat().st_mtime


#: navigation-only pathfinders, by navmesh file and its mtime (a planner beside the env loads each house once)
_pathfinders: OrderedDict[tuple[str, float], HabitatPathFinder] = OrderedDict()
_PATHFINDER_CACHE_SIZE = 8


def scene_pathfinder(scene: SceneSpec | str | os.PathLike[str], config: SimConfig) -> HabitatPathFinder:
    """habitat's PathFinder of ``scene`` for the agent of ``config``, with no renderer: the navmesh a
    HabitatSim of ``config`` walks on (the same file), for a planner that runs beside the env (the oracle).

    Builds the navmesh with a one-pixel HabitatSim when no HabitatSim has built it yet."""
    spec = resolve_scene(scene, config.scenes_dir)
    path = navmesh_file(spec, config)
    if not _navmesh_fresh(path, stage_config_of(spec)):
        with HabitatSim(replace(config, sensors=("depth",), width=1, height=1)) as sim:
            sim.load_scene(spec)  # habitat needs a renderer (so a sensor) to build a navmesh; it saves it
    key = (str(path), path.stat().st_mtime)
    if key in _pathfinders:
        _pathfinders.move_to_end(key)
        return _pathfinders[key]
    hsim = _import_habitat_sim()
    version = HabitatVersion.parse(hsim.__version__)
    pf = hsim.nav.PathFinder()
    if not pf.load_nav_mesh(str(path)):
        raise RuntimeError(f"habitat-sim could not read the navmesh {path}; delete it and it is rebuilt")
    _pathfinders[key] = HabitatPathFinder(pf, hsim, version)
    while len(_pathfinders) > _PATHFINDER_CACHE_SIZE:
        _pathfinders.popitem(last=False)
    return _pathfinders[key]


# ====================================================================== pathfinder


def _point(pt: Any, what: str = "point") -> np.ndarray:
    p = np.asarray(pt, dtype=np.float32).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{what} must be 3 finite numbers [x, y, z], got {pt!r}")
    return p


def _points(pts: Any, what: str = "points") -> np.ndarray:
    p = np.asarray(pts, dtype=np.float32)
    if p.ndim == 1:
        p = p.reshape(1, -1)
    if p.ndim != 2 or p.shape[1] != 3 or not np.all(np.isfinite(p)):
        raise ValueError(f"{what} must be a list of [x, y, z] points, got {pts!r}")
    return p


def _as_f64(v: Any) -> np.ndarray:
    return np.array(v, dtype=np.float64).reshape(-1)


class HabitatPathFinder:
    """habitat-sim's ``PathFinder`` with v4s's contract on top.

    Points go in as anything array-like and come back as (3,) float64 arrays; ``find_path`` also takes
    v4s's :class:`ShortestPath` / :class:`MultiGoalShortestPath` and fills them; ``geodesic_distance`` is
    added (inf when unreachable). Methods v4s does not wrap pass through (``distance_to_closest_obstacle``...).

    **The agent's island.** A navmesh is a set of islands: the floor, and often the tops of beds and tables
    (habitat-sim counts any flat top with headroom). The agent's island is the one of largest
    ``island_radius`` (habitat-lab's ``get_largest_island_index`` picks by area; the radius is what 0.2 can
    tell apart). ``get_random_navigable_point`` draws from it and ``snap_point`` snaps onto it, so random
    points, episode starts and goals, view points and tour waypoints are all reachable from one another;
    habitat-lab's ``island_radius`` rule (starts on islands of at least 1.5 m) still applies on top, in the
    episode sampler. ``is_navigable`` stays habitat's: true on any island.
    """

    def __init__(self, pathfinder: Any, habitat_sim: Any, version: HabitatVersion):
        self._pf = pathfinder
        self._hsim = habitat_sim
        self._version = version
        self._island_index, self._island_radius = self._agents_island()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._pf, name)

    @property
    def habitat_pathfinder(self) -> Any:
        """The wrapped ``habitat_sim.nav.PathFinder``."""
        return self._pf

    # ------------------------------------------------------------------ the agent's island
    def _agents_island(self) -> tuple[int | None, float]:
        """(island index or None on 0.2, island radius) of the largest island; (None, 0) without a navmesh."""
        if not self._pf.is_loaded:
            return None, 0.0
        if self._version.has_islands:
            radii = [float(self._pf.island_radius(island_index=i)) for i in range(int(self._pf.num_islands))]
            index = int(np.argmax(radii))
            return index, radii[index]
        vertices = np.asarray(self._pf.build_navmesh_vertices(), dtype=np.float32).reshape(-1, 3)
        return None, max((float(self._pf.island_radius(v)) for v in vertices), default=0.0)

    def _on_agents_island(self, pt: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(pt))) and \
            abs(float(self._pf.island_radius(_point(pt))) - self._island_radius) < 1e-4

    def snap_point(self, pt: Sequence[float]) -> np.ndarray:
        """The nearest point of the agent's island to ``pt``, (3,) float64; NaNs when there is none.

        On 0.3 habitat's own ``snap_point(pt, island_index)``. On 0.2, habitat's nearest navmesh point when
        it is on the agent's island, else the nearest of habitat's snaps of points on rings around ``pt``
        (every :data:`SNAP_RING_STEP` m out to :data:`SNAP_RING_RADIUS` m) and of the island's vertices that
        land on it. ``habitat_pathfinder.snap_point`` is habitat's, for any island."""
        p = _point(pt)
        if self._island_index is not None:
            return _as_f64(self._pf.snap_point(p, island_index=self._island_index))
        snapped = _as_f64(self._pf.snap_point(p))
        if self._on_agents_island(snapped):
            return snapped
        angles = np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False)
        rings = [p + np.array([r * math.cos(a), 0.0, r * math.sin(a)], dtype=np.float32)
                 for r in np.arange(SNAP_RING_STEP, SNAP_RING_RADIUS + 1e-6, SNAP_RING_STEP) for a in angles]
        vertices = np.asarray(self._pf.build_navmesh_vertices(), dtype=np.float32).reshape(-1, 3)
        candidates = [q for q in (_as_f64(self._pf.snap_point(c)) for c in [*rings, *vertices])
                      if self._on_agents_island(q)]
        if not candidates:
            return np.full(3, np.nan)
        return min(candidates, key=lambda q: float(np.sum((q - p) ** 2)))

    def get_random_navigable_point(self) -> np.ndarray:
        """A random point of the agent's island (see the class docstring), drawn with habitat's generator
        (``seed``): (3,) float64."""
        if self._island_index is not None:
            return _as_f64(self._pf.get_random_navigable_point(island_index=self._island_index))
        for _ in range(ISLAND_DRAWS):
            p = _as_f64(self._pf.get_random_navigable_point())
            if np.all(np.isfinite(p)) and self._on_agents_island(p):
                return p
        raise RuntimeError(f"no random navigable point on the agent's island in {ISLAND_DRAWS} draws: the navmesh "
                           "is mostly other islands (tops of furniture?)")

    # ------------------------------------------------------------------ habitat's queries, v4s's types
    def is_navigable(self, pt: Sequence[float], max_y_delta: float = 0.5) -> bool:
        return bool(self._pf.is_navigable(_point(pt), max_y_delta))

    def island_radius(self, pt: Sequence[float]) -> float:
        """Radius, metres, of the island holding ``pt`` (0 off the navmesh), habitat's heuristic."""
        return float(self._pf.island_radius(_point(pt)))

    def try_step(self, start: Sequence[float], end: Sequence[float]) -> np.ndarray:
        """Where a step from ``start`` towards ``end`` ends, sliding along walls (habitat's motion with
        ``allow_sliding``): (3,) float64."""
        return _as_f64(self._pf.try_step(_point(start, "start"), _point(end, "end")))

    def try_step_no_sliding(self, start: Sequence[float], end: Sequence[float]) -> np.ndarray:
        """Like :meth:`try_step`, stopping at the first obstacle: (3,) float64."""
        return _as_f64(self._pf.try_step_no_sliding(_point(start, "start"), _point(end, "end")))

    def get_topdown_view(self, meters_per_pixel: float, height: float) -> np.ndarray:
        """Navigability (rows: z, columns: x, from the lower corner of ``get_bounds``) at ``height``: bool."""
        return np.asarray(self._pf.get_topdown_view(float(meters_per_pixel), float(height)), dtype=bool)

    def seed(self, new_seed: int) -> None:
        self._pf.seed(int(new_seed))

    def get_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._pf.get_bounds()
        return _as_f64(lo), _as_f64(hi)

    @property
    def navigable_area(self) -> float:
        return float(self._pf.navigable_area)

    @property
    def is_loaded(self) -> bool:
        return bool(self._pf.is_loaded)

    def find_path(self, path: Any) -> bool:
        """Fill ``path`` (ours or habitat's) with the shortest path; True when one exists."""
        if isinstance(path, MultiGoalShortestPath):
            if path.requested_start is None or len(path.requested_ends) == 0:
                raise ValueError("MultiGoalShortestPath needs requested_start and at least one requested_ends point")
            hp = self._hsim.MultiGoalShortestPath()
            hp.requested_start = _point(path.requested_start, "requested_start")
            ends = _points(path.requested_ends, "requested_ends")
            hp.requested_ends = ends
            found = bool(self._pf.find_path(hp))
            path.points = [_as_f64(p) for p in hp.points]
            path.geodesic_distance = float(hp.geodesic_distance) if found else math.inf
            if not found:
                path.closest_end_point_index = -1
            elif self._version.has_closest_end_point_index:
                path.closest_end_point_index = int(hp.closest_end_point_index)
            else:  # the path ends at the end it reached
                path.closest_end_point_index = int(np.argmin(np.linalg.norm(ends - path.points[-1], axis=1)))
            return found
        if isinstance(path, ShortestPath):
            if path.requested_start is None or path.requested_end is None:
                raise ValueError("ShortestPath needs requested_start and requested_end")
            hp = self._hsim.ShortestPath()
            hp.requested_start = _point(path.requested_start, "requested_start")
            hp.requested_end = _point(path.requested_end, "requested_end")
            found = bool(self._pf.find_path(hp))
            path.points = [_as_f64(p) for p in hp.points]
            path.geodesic_distance = float(hp.geodesic_distance) if found else math.inf
            return found
        return bool(self._pf.find_path(path))  # habitat's own ShortestPath / MultiGoalShortestPath

    def geodesic_distance(self, start: Sequence[float], end: Sequence[float] | Sequence[Sequence[float]]) -> float:
        """Shortest walking distance from ``start`` to ``end`` (or to the nearest of several ends);
        inf when none can be reached. Same recipe as habitat-lab's ``HabitatSim.geodesic_distance``."""
        ends = np.asarray(end, dtype=np.float64)
        if ends.size == 0:
            return math.inf
        path = MultiGoalShortestPath(requested_start=np.asarray(start, dtype=np.float64),
                                     requested_ends=list(_points(ends, "end")))
        return path.geodesic_distance if self.find_path(path) else math.inf


# ====================================================================== observations


def convert_observations(raw: Mapping[str, Any], collided: bool) -> dict[str, Any]:
    """habitat-sim's observation dict -> v4s's: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W, 1) float32
    metres, ``semantic`` (H, W) int32, ``collided`` bool. Always copies: habitat-sim reuses its buffers."""
    out: dict[str, Any] = {}
    if "rgb" in raw:  # RGBA8, vertically flipped views of the render buffer
        rgb = np.asarray(raw["rgb"])
        out["rgb"] = np.array(rgb[..., :3] if rgb.ndim == 3 else rgb, dtype=np.uint8, order="C")
    if "depth" in raw:  # (H, W) float32 metres along the optical axis
        depth = np.array(raw["depth"], dtype=np.float32, order="C")
        out["depth"] = depth.reshape(depth.shape[0], depth.shape[1], 1)
    if "semantic" in raw:  # (H, W) uint32 semantic ids
        sem = np.asarray(raw["semantic"])
        out["semantic"] = np.array(sem.reshape(sem.shape[0], sem.shape[1]), dtype=np.int32, order="C")
    out["collided"] = bool(collided)
    return out


def semantic_scene_objects(semantic_scene: Any) -> list[SceneObject]:
    """v4s SceneObjects from a habitat ``SemanticScene`` (ids are ``semantic_id``; id 0 / Unknown skipped)."""
    objects: dict[int, SceneObject] = {}
    for obj in list(getattr(semantic_scene, "objects", None) or []):
        if obj is None:
            continue
        sid = int(obj.semantic_id)
        if sid <= 0 or sid in objects:
            continue
        category = obj.category.name() if obj.category is not None else "unknown"
        center = np.asarray(obj.aabb.center, dtype=np.float64).reshape(3)
        size = np.abs(np.asarray(obj.aabb.sizes, dtype=np.float64).reshape(3))
        if not (np.all(np.isfinite(center)) and np.all(np.isfinite(size))):
            continue
        region = getattr(obj, "region", None)
        room = -1
        if region is not None:
            try:
                room = int(region.index)
            except (AttributeError, TypeError, ValueError):
                room = -1
        lo, hi = center - size / 2.0, center + size / 2.0
        objects[sid] = SceneObject(id=sid, category=str(category), room=room, node=str(obj.id),
                                   aabb=(tuple(map(float, lo)), tuple(map(float, hi))))  # type: ignore[arg-type]
    return [objects[k] for k in sorted(objects)]


# ====================================================================== the simulator


class HabitatSim:
    """The :class:`~v4s.envs.sim.base.Simulator` on habitat-sim (see docs/habitat.md).

    Sensors are habitat ``CameraSensorSpec`` s named ``rgb`` / ``depth`` / ``semantic`` at
    ``[0, sensor_height, 0]``; actions are ``move_forward`` / ``turn_left`` / ``turn_right`` with the
    config's amounts; physics is off. The agent stands on habitat's navmesh (built with the config's
    agent, :data:`NAVMESH_CELL_HEIGHT`); ``previous_step_collided`` is the last step's
    ``obs["collided"]``, as habitat-lab's HabitatSim keeps it.
    """

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()
        self._hsim = _import_habitat_sim()
        self.version = HabitatVersion.parse(self._hsim.__version__)
        from habitat_sim.utils.common import quat_from_coeffs, quat_to_coeffs  # [x, y, z, w] <-> np.quaternion

        self._quat_from_coeffs, self._quat_to_coeffs = quat_from_coeffs, quat_to_coeffs
        self._gpu_device: int | None = None  # decided when the first scene loads
        self._sim: Any = None
        self._spec: SceneSpec | None = None
        self._stage: Path | None = None
        self._metadata: SceneMetadata | None = None
        self._pathfinder: HabitatPathFinder | None = None
        self._objects: list[SceneObject] | None = None
        self._collided = False
        self._closed = False

    # ------------------------------------------------------------------ configuration
    def _lit(self, metadata: SceneMetadata | None) -> bool:
        c = self.config.lighting
        return c == "on" or (c == "auto" and metadata is not None and metadata.generated_by_v4s)

    def navmesh_settings(self) -> Any:
        """habitat's ``NavMeshSettings`` for this config."""
        return navmesh_settings(self._hsim, self.version, self.config)

    @property
    def gpu_device(self) -> int:
        """The ``gpu_device_id`` habitat-sim renders with (see :func:`habitat_gpu_device`)."""
        if self._gpu_device is None:
            requested = int(self.config.gpu_device_id)
            self._gpu_device = habitat_gpu_device(requested, egl_cuda_devices() if requested >= 0 else None)
            if self._gpu_device != requested:
                logger.info("habitat-sim renders with gpu_device_id=%d: no EGL device for CUDA device %d",
                            self._gpu_device, requested)
        return self._gpu_device

    def _configuration(self, stage: Path, lit: bool) -> Any:
        """habitat_sim.Configuration for ``stage`` (names verified against SimBindings.cpp,
        SensorBindings.cpp, agent/agent.py and utils/settings.py::make_cfg)."""
        hsim, c = self._hsim, self.config
        sim_cfg = hsim.SimulatorConfiguration()
        sim_cfg.scene_id = str(stage)
        sim_cfg.enable_physics = False
        sim_cfg.gpu_device_id = self.gpu_device
        sim_cfg.allow_sliding = bool(c.allow_sliding)
        sim_cfg.scene_light_setup = hsim.gfx.DEFAULT_LIGHTING_KEY if lit else hsim.gfx.NO_LIGHT_KEY
        sim_cfg.override_scene_light_defaults = True
        sim_cfg.load_semantic_mesh = "semantic" in c.sensors
        sensor_types = {"rgb": hsim.SensorType.COLOR, "depth": hsim.SensorType.DEPTH,
                        "semantic": hsim.SensorType.SEMANTIC}
        specs = []
        for name in c.sensors:
            spec = hsim.CameraSensorSpec()
            spec.uuid = name
            spec.sensor_type = sensor_types[name]
            spec.sensor_subtype = hsim.SensorSubType.PINHOLE
            spec.resolution = [int(c.height), int(c.width)]
            spec.position = [0.0, float(c.sensor_height), 0.0]
            spec.hfov = float(c.hfov)
            spec.far = float(c.zfar)
            specs.append(spec)
        agent_cfg = hsim.agent.AgentConfiguration()
        agent_cfg.height = float(c.agent_height)
        agent_cfg.radius = float(c.agent_radius)
        agent_cfg.sensor_specifications = specs
        act, spec_ = hsim.agent.ActionSpec, hsim.agent.ActuationSpec
        agent_cfg.action_space = {
            "move_forward": act("move_forward", spec_(amount=float(c.forward_step_size))),
            "turn_left": act("turn_left", spec_(amount=float(c.turn_angle))),
            "turn_right": act("turn_right", spec_(amount=float(c.turn_angle))),
        }
        return hsim.Configuration(sim_cfg, [agent_cfg])

    # ------------------------------------------------------------------ scene
    def load_scene(self, scene: SceneSpec | str | os.PathLike[str]) -> None:
        """Load a generated house id, a ``.glb`` path or a SceneSpec; a no-op for the loaded scene.

        The agent is placed on its island (see :class:`HabitatPathFinder`), at the point nearest the
        navmesh's centre, facing -z."""
        self._check_open()
        spec = resolve_scene(scene, self.config.scenes_dir)
        if spec == self._spec and self._sim is not None:
            return
        metadata = load_semantic(spec.semantic) if spec.semantic is not None else None
        stage = stage_config_of(spec)
        cfg = self._configuration(stage, self._lit(metadata))
        if self._sim is None:
            self._sim = self._hsim.Simulator(cfg)
        elif stage != self._stage:
            # as habitat-lab's HabitatSim.reconfigure: free the old scene's assets, keep the GL context
            self._spec = self._stage = None  # until the new scene is fully loaded
            self._sim.close(destroy=False)
            self._sim.reconfigure(cfg)
        self._stage, self._metadata, self._objects = stage, metadata, None
        self._ensure_navmesh(spec)
        self._pathfinder = HabitatPathFinder(self._sim.pathfinder, self._hsim, self.version)
        lo, hi = self._pathfinder.get_bounds()
        self._set_state(self._pathfinder.snap_point((lo + hi) / 2.0), yaw_to_quaternion(0.0))
        self._spec, self._collided = spec, False

    def _ensure_navmesh(self, spec: SceneSpec) -> None:
        """Load this config's navmesh of ``spec`` (:func:`navmesh_file`), or build it and save it there. A
        navmesh the scene ships with (``<stem>.navmesh``) was built for another agent, so it is not used."""
        pf, path = self._sim.pathfinder, navmesh_file(spec, self.config)
        if _navmesh_fresh(path, self._stage) and pf.load_nav_mesh(str(path)):  # type: ignore[arg-type]
            return
        if self._sim.recompute_navmesh(pf, self.navmesh_settings()) and pf.is_loaded:
            with atomic_path(path) as tmp:
                pf.save_nav_mesh(str(tmp))
            return
        self._spec = None
        raise no_navigable_area_error(spec, self.config, "habitat-sim built no navmesh")

    @property
    def scene(self) -> SceneSpec | None:
        return self._spec

    @property
    def habitat_sim(self) -> Any:
        """The underlying ``habitat_sim.Simulator``."""
        self._check_loaded()
        return self._sim

    @property
    def pathfinder(self) -> HabitatPathFinder:
        self._check_loaded()
        return self._pathfinder  # type: ignore[return-value]

    @property
    def objects(self) -> list[SceneObject]:
        """From the scene's ``.semantic.json`` when it has one (same ids as the embedded backend),
        else from habitat's ``semantic_scene``."""
        self._check_loaded()
        if self._objects is None:
            if self._metadata is not None:
                self._objects = list(self._metadata.objects)
            else:
                self._objects = semantic_scene_objects(self._sim.semantic_scene)
        return list(self._objects)

    # ------------------------------------------------------------------ agent
    @property
    def agent_state(self) -> AgentState:
        self._check_loaded()
        state = self._sim.get_agent(0).get_state()
        rotation = state.rotation
        if hasattr(rotation, "imag"):  # numpy-quaternion, as Agent.get_state returns
            coeffs = _as_f64(self._quat_to_coeffs(rotation))
        else:
            coeffs = _as_f64(rotation)
        try:  # the agent only yaws: drop habitat's float32 noise in x and z, and pick the w >= 0 sign
            coeffs = yaw_to_quaternion(quaternion_to_yaw(coeffs))
        except ValueError:
            coeffs = coeffs / np.linalg.norm(coeffs)
        return AgentState(position=_as_f64(state.position), rotation=coeffs)

    def set_agent_state(self, position: Sequence[float], rotation: Sequence[float] | None = None) -> None:
        """Place the agent's feet at ``position`` (3,) metres, turned by ``rotation`` [x, y, z, w]
        (yaw only; None keeps the current heading). Raises NotNavigableError off the navmesh.

        Like the embedded backend puts the feet on the floor, the height is taken from the navmesh
        (``snap_point``), where habitat-sim's own steps keep the agent; x and z are kept as given."""
        self._check_loaded()
        p = np.asarray(position, dtype=np.float64).reshape(-1)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise ValueError(f"position must be 3 finite numbers [x, y, z], got {position!r}")
        if rotation is None:
            q = self.agent_state.rotation
        else:
            q = yaw_to_quaternion(quaternion_to_yaw(rotation))  # validates: yaw only, unit length
        if not self._pathfinder.is_navigable(p):  # type: ignore[union-attr]
            raise not_navigable_error(p, self._pathfinder.snap_point(p),  # type: ignore[union-attr]
                                      self._spec.scene_id, self.config.agent_radius,  # type: ignore[union-attr]
                                      navigation="navigable area (habitat navmesh)")
        snapped = _as_f64(self._pathfinder.habitat_pathfinder.snap_point(_point(p)))  # type: ignore[union-attr]
        if np.all(np.isfinite(snapped)):
            p = np.array([p[0], snapped[1], p[2]])
        self._set_state(p, q)
        self._collided = False

    def _set_state(self, position: np.ndarray, rotation_xyzw: np.ndarray) -> None:
        hsim = self._hsim
        state = hsim.AgentState()
        state.position = np.asarray(position, dtype=np.float32)
        state.rotation = self._quat_from_coeffs(np.asarray(rotation_xyzw, dtype=np.float64))
        self._sim.get_agent(0).set_state(state, reset_sensors=True)

    @property
    def previous_step_collided(self) -> bool:
        """Whether the last ``step`` hit something (habitat-lab keeps this as ``obs['collided']``)."""
        return self._collided

    def step(self, action: str) -> dict[str, Any]:
        """Apply one of ``move_forward``, ``turn_left``, ``turn_right`` and observe."""
        check_action(action)
        self._check_loaded()
        raw = self._sim.step(action)
        self._collided = bool(raw.get("collided", False))
        return convert_observations(raw, self._collided)

    def observe(self) -> dict[str, Any]:
        """Render the sensors at the current agent state (``collided`` is False)."""
        self._check_loaded()
        return convert_observations(self._sim.get_sensor_observations(), False)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Close habitat-sim and free its GPU context; idempotent."""
        sim, self._sim = self._sim, None
        self._spec, self._stage, self._metadata, self._pathfinder, self._objects = None, None, None, None, None
        self._closed = True
        if sim is not None:
            sim.close()

    def __enter__(self) -> HabitatSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this HabitatSim is closed: make a new simulator with make_sim()")

    def _check_loaded(self) -> None:
        self._check_open()
        if self._sim is None:
            raise RuntimeError("no scene loaded: call load_scene() first")


__all__ = ["CONDA_INSTALL", "HabitatPathFinder", "HabitatSim", "HabitatVersion", "NAVMESH_CELL_HEIGHT",
           "convert_observations", "egl_cuda_devices", "habitat_gpu_device", "navmesh_file", "navmesh_settings",
           "scene_pathfinder", "semantic_scene_objects", "stage_config_of"]

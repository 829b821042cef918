"""EmbeddedSim: the simulator that runs everywhere.

trimesh reads the GLB, moderngl renders it headless over EGL (Mesa's llvmpipe on a
CPU, the NVIDIA driver on a GPU), and a navigation grid built from the same mesh
answers PathFinder queries and keeps the agent on the floor. The agent is a
cylinder with Habitat's discrete actions; on collision it slides along the wall
like habitat-sim with ``allow_sliding``.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from v4s.envs.scenes import hm3d
from v4s.envs.scenes.mesh import SceneMesh, load_collision_mesh, load_scene_mesh
from v4s.envs.scenes.spec import SceneSpec, resolve_scene
from v4s.envs.sim import gl
from v4s.envs.sim.base import (
    AgentState,
    SceneObject,
    SimConfig,
    check_action,
    heading_vector,
    no_navigable_area_error,
    not_navigable_error,
    quaternion_to_yaw,
    wrap_angle,
    yaw_to_quaternion,
)
from v4s.envs.sim.navgrid import NavGrid, NavGridError, NavGridSettings
from v4s.envs.sim.renderer import SceneRenderer

#: scenes (mesh + navigation grid) kept per process, so envs that revisit a house skip the reload
SCENE_CACHE_SIZE = int(os.environ.get("V4S_SCENE_CACHE", "4"))
_scene_cache: OrderedDict[tuple, tuple[SceneMesh, NavGrid]] = OrderedDict()


def nav_settings(config: SimConfig) -> NavGridSettings:
    """Navigation grid settings for the agent of ``config``."""
    return NavGridSettings(agent_radius=config.agent_radius, agent_height=config.agent_height,
                           max_climb=config.max_climb, max_slope=config.max_slope, cell_size=config.nav_cell_size)


def load_scene_assets(spec: SceneSpec, config: SimConfig) -> tuple[SceneMesh, NavGrid]:
    """The scene's mesh and its navigation grid for the agent of ``config`` (kept in a per-process LRU). The grid
    is built from ``spec.collision`` when the scene names one, else from the render mesh; ``floor_height`` in the
    scene's ``.semantic.json`` fixes its one level, else every floor level is found.

    Raises SceneFileError naming the GLB (or collision GLB) when the agent has nowhere to stand in it."""
    settings = nav_settings(config)
    key = (repr(spec), os.path.getmtime(spec.glb), repr(settings), os.environ.get(hm3d.CATEGORY_TABLE_ENV))
    if key in _scene_cache:
        _scene_cache.move_to_end(key)
        return _scene_cache[key]
    mesh = load_scene_mesh(spec)
    if mesh.metadata is not None and mesh.metadata.floor_height is not None:
        settings.floor_height = mesh.metadata.floor_height
    positions, faces = (mesh.positions, mesh.faces) if spec.collision is None else load_collision_mesh(spec)
    try:
        grid = NavGrid.from_mesh(positions, faces.astype(np.int64), settings)
    except NavGridError as e:
        raise no_navigable_area_error(spec, config, str(e)) from None
    _scene_cache[key] = (mesh, grid)
    while len(_scene_cache) > SCENE_CACHE_SIZE:
        _scene_cache.popitem(last=False)
    return mesh, grid


def lit_vertices(mesh: SceneMesh, lighting: str) -> np.ndarray:
    """Which vertices (V,) bool get flat shading: all ("on"), none ("off"), or ("auto") all of a v4s house
    and, elsewhere, those coloured by their material alone (no texture, no vertex colour), so that an
    untextured room is not one flat colour; textured and vertex-coloured scans keep their baked light."""
    if lighting == "on" or (lighting == "auto" and mesh.metadata is not None and mesh.metadata.generated_by_v4s):
        return np.ones(len(mesh.positions), dtype=bool)
    if lighting == "off":
        return np.zeros(len(mesh.positions), dtype=bool)
    return mesh.flat_color


class EmbeddedSim:
    """The :class:`~v4s.envs.sim.base.Simulator` on moderngl + trimesh + a navigation grid."""

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()
        self._renderer: SceneRenderer | None = None
        self._mesh: SceneMesh | None = None
        self._grid: NavGrid | None = None
        self._spec: SceneSpec | None = None
        self._position = np.zeros(3)
        self._yaw = 0.0
        self._collided = False
        self._closed = False

    # ------------------------------------------------------------------ scene
    def load_scene(self, scene: SceneSpec | str | os.PathLike[str]) -> None:
        """Load a generated house id, a ``.glb`` path or a SceneSpec; a no-op for the loaded scene.

        The agent is placed at the grid's default start (near the navigable area's centre, on an island
        of habitat's minimum radius); ``set_agent_state`` puts it on the level of the position it gets."""
        self._check_open()
        spec = resolve_scene(scene, self.config.scenes_dir)
        if spec == self._spec:
            return
        c = self.config
        mesh, grid = load_scene_assets(spec, c)
        renderer = SceneRenderer(gl.get_context(c.gpu_device_id), mesh, c.width, c.height, c.hfov, c.sensors,
                                 lit=lit_vertices(mesh, c.lighting), max_texture_size=c.max_texture_size, zfar=c.zfar)
        if self._renderer is not None:
            self._renderer.release()
        self._renderer, self._mesh, self._grid, self._spec = renderer, mesh, grid, spec
        self._position = grid.default_start()
        self._yaw, self._collided = 0.0, False

    @property
    def scene(self) -> SceneSpec | None:
        return self._spec

    @property
    def mesh(self) -> SceneMesh:
        self._check_loaded()
        return self._mesh  # type: ignore[return-value]

    @property
    def pathfinder(self) -> NavGrid:
        self._check_loaded()
        return self._grid  # type: ignore[return-value]

    @property
    def objects(self) -> list[SceneObject]:
        self._check_loaded()
        return list(self._mesh.metadata.objects) if self._mesh.metadata else []  # type: ignore[union-attr]

    # ------------------------------------------------------------------ agent
    @property
    def agent_state(self) -> AgentState:
        return AgentState(position=self._position.copy(), rotation=yaw_to_quaternion(self._yaw))

    def set_agent_state(self, position: Sequence[float], rotation: Sequence[float] | None = None) -> None:
        """Place the agent's feet at ``position`` (3,) metres, turned by ``rotation`` [x, y, z, w].

        Raises NotNavigableError when the position is off the navigable area."""
        self._check_loaded()
        p = np.asarray(position, dtype=np.float64).reshape(-1)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise ValueError(f"position must be 3 finite numbers [x, y, z], got {position!r}")
        yaw = self._yaw if rotation is None else quaternion_to_yaw(rotation)
        if not self._grid.is_navigable(p):  # type: ignore[union-attr]
            raise not_navigable_error(p, self._grid.snap_point(p), self._spec.scene_id,  # type: ignore[union-attr]
                                      self.config.agent_radius)
        self._position = np.array([p[0], self._grid.floor_at(p[0], p[2], p[1]), p[2]])  # type: ignore[union-attr]
        self._yaw = wrap_angle(yaw)
        self._collided = False

    @property
    def previous_step_collided(self) -> bool:
        return self._collided

    def step(self, action: str) -> dict[str, Any]:
        """Apply one of ``move_forward``, ``turn_left``, ``turn_right`` and observe."""
        check_action(action)
        self._check_loaded()
        if action == "move_forward":
            self._position, self._collided = self._move(self._position, self._yaw)
        else:
            turn = math.radians(self.config.turn_angle)
            self._yaw = wrap_angle(self._yaw + (turn if action == "turn_left" else -turn))
            self._collided = False
        obs = self.observe()
        obs["collided"] = self._collided
        return obs

    def _move(self, position: np.ndarray, yaw: float) -> tuple[np.ndarray, bool]:
        """Forward step (sliding along walls when configured); the new position and whether it collided."""
        target = position + heading_vector(yaw) * self.config.forward_step_size
        grid = self._grid
        end = grid.try_step(position, target) if self.config.allow_sliding else \
            grid.try_step_no_sliding(position, target)  # type: ignore[union-attr]
        # habitat-sim's rule: a step collided when it moved less than asked
        collided = float(np.linalg.norm((end - target)[[0, 2]])) > 1e-6
        return end, collided

    # ------------------------------------------------------------------ sensors
    def observe(self) -> dict[str, Any]:
        """Render the sensors at the current agent state."""
        self._check_loaded()
        eye = self._position + np.array([0.0, self.config.sensor_height, 0.0])
        return self._renderer.render(eye, self._yaw)  # type: ignore[union-attr]

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Free this simulator's GL objects; idempotent."""
        if self._renderer is not None:
            self._renderer.release()
        self._renderer, self._mesh, self._grid, self._spec = None, None, None, None
        self._closed = True

    def __enter__(self) -> EmbeddedSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this EmbeddedSim is closed: make a new simulator with make_sim()")

    def _check_loaded(self) -> None:
        self._check_open()
        if self._renderer is None:
            raise RuntimeError("no scene loaded: call load_scene() first")

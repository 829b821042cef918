"""The habitat-sim backend: what runs without habitat-sim (import, install hint, version guards, the
render device, the semantic export, the pathfinder wrapper, observation conversion, the habitat API on
a strict stand-in), and the real habitat-sim where it is installed.

The behaviour shared with the embedded backend is in test_sim_contract.py, which runs against
HabitatSim too wherever habitat-sim can be imported; ``make test-habitat`` runs all of it there.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh
from conftest import HOUSE_ID

from v4s.envs.scenes.hm3d import read_descriptor
from v4s.envs.scenes.semantic import SceneMetadata, SceneObject
from v4s.envs.scenes.spec import SceneSpec, resolve_scene
from v4s.envs.sim import (
    InvalidActionError,
    MultiGoalShortestPath,
    NotNavigableError,
    PathFinder,
    ShortestPath,
    SimConfig,
    make_sim,
    scene_pathfinder,
)
from v4s.envs.sim import habitat as hab
from v4s.envs.sim.habitat import export

pytestmark = pytest.mark.habitat  # the backend's own tests: make test-habitat runs every one

Z_UP, Z_UP_FRONT = (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)  #: habitat's frame for z-up scans


def _block(size, center) -> trimesh.Trimesh:
    return trimesh.creation.box(size).apply_translation(center)


def _write_scene(out: Path, z_up: bool = False) -> tuple[SceneSpec, dict[int, np.ndarray]]:
    """A floor, a wall and three labelled objects (ids 3, 12 and 40000, one nested under a
    transformed parent node) as a real GLB + semantic json. Returns the spec and each object's
    world-frame (y-up) AABB."""
    out.mkdir(parents=True, exist_ok=True)
    scene = trimesh.Scene()
    scene.add_geometry(_block([4, 0.02, 4], [0, -0.01, 0]), node_name="floor", geom_name="floor")
    scene.add_geometry(_block([4, 2.5, 0.1], [0, 1.25, -2.05]), node_name="wall", geom_name="wall")
    scene.add_geometry(_block([0.5, 0.9, 0.5], [1.0, 0.45, 0.0]), node_name="object_0003_chair", geom_name="chair")
    scene.add_geometry(_block([1.0, 0.5, 2.0], [-1.0, 0.25, 0.5]), node_name="object_0012_bed", geom_name="bed")
    # a plant whose geometry sits in its node's local frame, moved by the node transform
    scene.add_geometry(_block([0.3, 0.6, 0.3], [0, 0.3, 0]), node_name="object_40000_plant", geom_name="plant",
                       transform=trimesh.transformations.translation_matrix([1.5, 0.0, 1.5]))
    if z_up:  # store the same house z-up, as scans are: (x, y, z)_y-up = (x, z, -y)_z-up
        scene.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [1, 0, 0]))
    glb = out / "tiny.glb"
    glb.write_bytes(scene.export(file_type="glb"))
    loaded = trimesh.load(str(glb), force="scene", process=False)
    to_y_up = trimesh.transformations.rotation_matrix(-math.pi / 2, [1, 0, 0]) if z_up else np.eye(4)
    objects, boxes = [], {}
    for oid, node, category, room in [(3, "object_0003_chair", "chair", 0), (12, "object_0012_bed", "bed", 1),
                                      (40000, "object_40000_plant", "plant", -1)]:
        transform, geom = loaded.graph[node]
        verts = trimesh.transform_points(loaded.geometry[geom].vertices, to_y_up @ transform)
        lo, hi = verts.min(axis=0), verts.max(axis=0)
        boxes[oid] = np.stack([lo, hi])
        objects.append(SceneObject(id=oid, category=category, node=node, room=room,
                                   aabb=(tuple(map(float, lo)), tuple(map(float, hi)))))
    semantic = out / "tiny.semantic.json"
    SceneMetadata(scene_id="tiny", objects=objects, floor_height=0.0,
                  generator={"name": "v4s.test", "version": 1}).save(semantic)
    frame = {"up": Z_UP, "front": Z_UP_FRONT} if z_up else {}
    return SceneSpec(scene_id="tiny", glb=glb, semantic=semantic, **frame), boxes


def _srgb_int(linear: np.ndarray) -> np.ndarray:
    """Per-vertex colour as habitat-sim matches it against the descriptor: 0xRRGGBB after toSrgb."""
    rgb = hab.linear_to_srgb8(linear).astype(np.int64)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


# ---------------------------------------------------------------- without habitat-sim
def test_module_imports_without_habitat_sim(monkeypatch):
    monkeypatch.setitem(sys.modules, "habitat_sim", None)  # makes `import habitat_sim` fail
    for name in [m for m in sys.modules if m.startswith("v4s.envs.sim.habitat")]:
        monkeypatch.delitem(sys.modules, name)
    module = importlib.import_module("v4s.envs.sim.habitat")
    assert hasattr(module, "HabitatSim") and hasattr(module, "export_habitat_semantics")


def test_constructing_without_habitat_sim_explains_the_conda_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "habitat_sim", None)
    for make in (lambda: hab.HabitatSim(SimConfig()), lambda: make_sim("habitat")):
        with pytest.raises(ImportError) as err:
            make()
        message = str(err.value)
        assert "conda install -c aihabitat -c conda-forge habitat-sim withbullet headless" in message
        assert "environment.yml" in message


# ---------------------------------------------------------------- versions
@pytest.mark.parametrize("text, islands", [("0.2.2a2", False), ("0.2.2", False), ("0.2.5", False),
                                           ("0.3.0", True), ("0.3.3", True)])
def test_version_guards_follow_habitat_sim_version(text, islands):
    version = hab.HabitatVersion.parse(text)
    assert version.has_islands is islands
    assert version.has_closest_end_point_index is islands and version.has_include_static_objects is islands


@pytest.mark.parametrize("text", ["0.1.7", "0.2.1", "nightly"])
def test_an_unsupported_habitat_sim_is_named(text):
    with pytest.raises(ImportError, match=rf"{text}.*0\.2\.2"):
        hab.HabitatVersion.parse(text)


# ---------------------------------------------------------------- the render device
def test_the_render_device_without_cuda_is_habitats_default_egl_device(monkeypatch):
    monkeypatch.delenv("HSIM_DISABLE_CUDA_DEVICE", raising=False)
    assert hab.habitat_gpu_device(0, set()) == -1  # CPU machine: llvmpipe, not "no EGL device for CUDA device 0"
    assert hab.habitat_gpu_device(0, None) == -1  # no libEGL at all: let habitat-sim say what is missing
    assert hab.habitat_gpu_device(-1, set()) == -1
    assert hab.habitat_gpu_device(0, {0, 1}) == 0 and hab.habitat_gpu_device(1, {0, 1}) == 1
    with pytest.raises(ValueError, match=r"sim.gpu_device_id=2: .*CUDA devices with EGL: \[0, 1\]"):
        hab.habitat_gpu_device(2, {0, 1})
    with pytest.raises(ValueError, match=r"sim.gpu_device_id=1: .*none.*0 or -1"):
        hab.habitat_gpu_device(1, set())
    monkeypatch.setenv("HSIM_DISABLE_CUDA_DEVICE", "1")  # a build that picks EGL devices by index
    assert hab.habitat_gpu_device(1, set()) == 1


def test_egl_devices_are_asked_for_real(monkeypatch):
    monkeypatch.delenv("HSIM_DISABLE_CUDA_DEVICE", raising=False)
    found = hab.egl_cuda_devices()  # this machine's libEGL; no NVIDIA GPU gives an empty set
    assert found is None or (isinstance(found, set) and all(isinstance(d, int) and d >= 0 for d in found))
    assert hab.habitat_gpu_device(0, found) in ({0} if found and 0 in found else {-1})


# ---------------------------------------------------------------- semantic colours
def test_semantic_colours_are_distinct_and_survive_habitats_srgb_conversion():
    ids = np.arange(hab.MAX_SEMANTIC_ID + 1)
    colors = np.array([hab.semantic_color(i) for i in ids])
    assert colors[0] == 0 and len(np.unique(colors)) == len(ids)
    # float COLOR_0 as written -> Magnum toSrgb<UnsignedByte> -> the same 0xRRGGBB for every id
    linear = export._srgb8_to_linear(export._color_bytes(colors))
    assert linear.dtype == np.float32
    np.testing.assert_array_equal(_srgb_int(linear), colors)
    with pytest.raises(ValueError, match="16-bit"):
        hab.semantic_color(hab.MAX_SEMANTIC_ID + 1)


def test_linear_to_srgb_follows_the_srgb_curve():
    np.testing.assert_array_equal(hab.linear_to_srgb8(np.array([0.0, 1.0, 0.5, 0.002], dtype=np.float32)),
                                  [0, 255, 188, 7])  # 0.5 -> 0.7354; 0.002 -> 12.92 * 0.002 * 255


# ---------------------------------------------------------------- the HM3D descriptor
def test_descriptor_round_trips_ids_categories_and_rooms(tmp_path):
    objects = [SceneObject(id=12, category="tv_monitor", aabb=((0, 0, 0), (1, 1, 1)), room=2),
               SceneObject(id=3, category='odd, "quoted" name', aabb=((0, 0, 0), (1, 1, 1)), room=-1)]
    text = hab.hm3d_descriptor(objects)
    lines = text.splitlines()
    assert lines[0] == "HM3D Semantic Annotations"
    assert lines[1] == f"3,{hab.semantic_color(3):06X},\"odd 'quoted' name\",-1"  # no commas or quotes inside
    assert lines[2].startswith("12,") and lines[2].endswith(',"tv_monitor",2')
    (tmp_path / "x.semantic.txt").write_text(text)
    parsed = read_descriptor(tmp_path / "x.semantic.txt")  # the reader of HM3D scenes reads it back
    assert parsed == {3: (hab.semantic_color(3), "odd 'quoted' name", -1),
                      12: (hab.semantic_color(12), "tv_monitor", 2)}
    with pytest.raises(ValueError, match="ids start at 1"):
        hab.hm3d_descriptor([SceneObject(id=0, category="x", aabb=((0, 0, 0), (1, 1, 1)))])


# ---------------------------------------------------------------- the export
def test_export_writes_semantic_mesh_descriptor_and_stage(tmp_path):
    spec, boxes = _write_scene(tmp_path)
    stage = hab.export_habitat_semantics(spec)
    assert stage == tmp_path / "tiny.semantic.stage_config.json"

    config = json.loads(stage.read_text())
    assert config["render_asset"] == "tiny.glb" and config["collision_asset"] == "tiny.glb"
    assert config["up"] == [0.0, 1.0, 0.0] and config["front"] == [0.0, 0.0, -1.0]
    assert config["semantic_asset"] == "tiny.semantic.glb"
    assert config["semantic_descriptor_filename"] == "tiny.semantic.txt"
    assert config["has_semantic_textures"] is False
    assert config["semantic_up"] == [0.0, 1.0, 0.0] and config["semantic_front"] == [0.0, 0.0, -1.0]
    assert config["scale"] == [1.0, 1.0, 1.0] and config["origin"] == [0.0, 0.0, 0.0]

    descriptor = read_descriptor(tmp_path / "tiny.semantic.txt")
    assert descriptor == {3: (hab.semantic_color(3), "chair", 0), 12: (hab.semantic_color(12), "bed", 1),
                          40000: (hab.semantic_color(40000), "plant", -1)}

    mesh = hab.read_semantic_glb(tmp_path / "tiny.semantic.glb")
    ids, positions = mesh["object_ids"], mesh["positions"]
    assert set(np.unique(ids).tolist()) == {0, 3, 12, 40000}
    # both carriers agree: the vertex colour habitat-sim sees maps through the descriptor to _OBJECT_ID
    colour_to_id = {colour: oid for oid, (colour, _, _) in descriptor.items()} | {0: 0}
    np.testing.assert_array_equal([colour_to_id[c] for c in _srgb_int(mesh["colors"])], ids)
    # each object's vertices span exactly its json AABB (world frame, y up; node transforms applied)
    for oid, box in boxes.items():
        verts = positions[ids == oid]
        np.testing.assert_allclose([verts.min(axis=0), verts.max(axis=0)], box, atol=1e-5)
    assert mesh["faces"].max() < len(positions) and len(mesh["faces"]) == 5 * 12


def test_semantic_glb_parses_back_with_trimesh(tmp_path):
    spec, _ = _write_scene(tmp_path)
    hab.export_habitat_semantics(spec)
    loaded = trimesh.load(str(tmp_path / "tiny.semantic.glb"), force="scene", process=False)
    (geometry,) = loaded.geometry.values()
    ours = hab.read_semantic_glb(tmp_path / "tiny.semantic.glb")
    np.testing.assert_allclose(geometry.vertices, ours["positions"], atol=1e-6)
    np.testing.assert_array_equal(geometry.faces, ours["faces"])
    np.testing.assert_array_equal(np.asarray(geometry.vertex_attributes["_OBJECT_ID"]).reshape(-1),
                                  ours["object_ids"])


def test_z_up_scene_keeps_its_frame_for_rendering_and_semantics_in_world_frame(tmp_path):
    spec, boxes = _write_scene(tmp_path, z_up=True)
    config = json.loads(hab.export_habitat_semantics(spec).read_text())
    assert config["up"] == [0.0, 0.0, 1.0] and config["front"] == [0.0, 1.0, 0.0]  # habitat's z-up frame
    assert config["semantic_up"] == [0.0, 1.0, 0.0]  # the semantic mesh is written y up
    mesh = hab.read_semantic_glb(tmp_path / "tiny.semantic.glb")
    for oid, box in boxes.items():
        verts = mesh["positions"][mesh["object_ids"] == oid]
        np.testing.assert_allclose([verts.min(axis=0), verts.max(axis=0)], box, atol=1e-5)


def test_export_only_rewrites_missing_or_stale_files(tmp_path):
    spec, _ = _write_scene(tmp_path)
    outputs = [tmp_path / f"tiny.{ext}" for ext in ("semantic.glb", "semantic.txt", "semantic.stage_config.json")]
    hab.export_habitat_semantics(spec)
    old = time.time() - 100
    for p in outputs:
        os.utime(p, (old + 50, old + 50))
    os.utime(spec.glb, (old, old))
    os.utime(spec.semantic, (old, old))  # type: ignore[arg-type]
    hab.export_habitat_semantics(spec)
    assert [p.stat().st_mtime for p in outputs] == [old + 50] * 3  # fresh: untouched

    (tmp_path / "tiny.semantic.txt").unlink()
    hab.export_habitat_semantics(spec)
    assert all(p.is_file() and p.stat().st_mtime > old + 50 for p in outputs)  # one missing: all rewritten

    for p in outputs:
        os.utime(p, (old, old))
    os.utime(spec.semantic, None)  # type: ignore[arg-type]  # the json changed after the export
    hab.export_habitat_semantics(spec)
    assert all(p.stat().st_mtime > old for p in outputs)


def test_a_shipped_navmesh_is_not_named_and_a_users_stage_config_is_not_touched(tmp_path):
    spec, _ = _write_scene(tmp_path)
    (tmp_path / "tiny.navmesh").write_bytes(b"built for another agent")
    users = tmp_path / "tiny.stage_config.json"
    users.write_text('{"render_asset": "tiny.glb", "up": [0, 1, 0], "front": [0, 0, -1], "requires_lighting": true}')
    for stage in (hab.export_habitat_semantics(spec), hab.write_stage_config(replace(spec, semantic=None))):
        config = json.loads(stage.read_text())
        assert "nav_asset" not in config and stage != users  # the backend builds the navmesh for its agent
    assert json.loads(users.read_text())["requires_lighting"] is True


def test_collision_mesh_and_scale_reach_the_stage(tmp_path):
    spec, _ = _write_scene(tmp_path)
    collision = tmp_path / "tiny_collision.glb"
    collision.write_bytes(spec.glb.read_bytes())
    scaled = replace(spec, semantic=None, collision=collision, scale=(0.01, 0.01, 0.01))
    config = json.loads(hab.write_stage_config(scaled).read_text())
    assert config["render_asset"] == "tiny.glb" and config["collision_asset"] == "tiny_collision.glb"
    assert config["scale"] == [0.01, 0.01, 0.01]


def test_a_changed_asset_frame_rewrites_the_stage(tmp_path):
    spec, _ = _write_scene(tmp_path)
    plain = replace(spec, semantic=None)
    first = json.loads(hab.write_stage_config(plain).read_text())
    rescaled = json.loads(hab.write_stage_config(replace(plain, scale=(0.01, 0.01, 0.01))).read_text())
    assert first["scale"] == [1.0, 1.0, 1.0] and rescaled["scale"] == [0.01, 0.01, 0.01]  # not kept as fresh
    turned = json.loads(hab.write_stage_config(replace(plain, up=Z_UP, front=Z_UP_FRONT)).read_text())
    assert turned["up"] == list(Z_UP) and turned["front"] == list(Z_UP_FRONT)


def test_read_only_scene_directory_exports_to_the_cache(tmp_path, monkeypatch):
    spec, _ = _write_scene(tmp_path / "dataset")
    monkeypatch.setenv("V4S_CACHE", str(tmp_path / "cache"))
    real_access = os.access
    monkeypatch.setattr(export.os, "access", lambda p, mode: False if Path(p) == tmp_path / "dataset"
                        else real_access(p, mode))
    stage = hab.export_habitat_semantics(spec)
    assert stage.parent.parent == tmp_path / "cache" / "habitat"
    config = json.loads(stage.read_text())
    assert config["render_asset"] == str((tmp_path / "dataset" / "tiny.glb").resolve())  # absolute
    assert config["semantic_asset"] == "tiny.semantic.glb"
    assert not (tmp_path / "dataset" / "tiny.semantic.glb").exists()


def test_scene_without_semantics_gets_a_stage_config_only(tmp_path):
    spec, _ = _write_scene(tmp_path)
    plain = SceneSpec(scene_id="tiny", glb=spec.glb, semantic=None, up=Z_UP, front=Z_UP_FRONT)
    with pytest.raises(ValueError, match="no .semantic.json"):
        hab.export_habitat_semantics(plain)
    stage = hab.write_stage_config(plain)
    assert stage == tmp_path / "tiny.v4s.stage_config.json"
    config = json.loads(stage.read_text())
    assert config["render_asset"] == "tiny.glb" and config["up"] == [0.0, 0.0, 1.0]
    assert "semantic_asset" not in config


def test_ids_beyond_habitats_16_bits_are_refused(tmp_path):
    spec, _ = _write_scene(tmp_path)
    data = json.loads(Path(spec.semantic).read_text())  # type: ignore[arg-type]
    data["objects"][0]["id"] = 70000
    Path(spec.semantic).write_text(json.dumps(data))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="70000"):
        hab.export_habitat_semantics(spec)


def test_generated_house_exports(tmp_path):
    procedural = pytest.importorskip("v4s.envs.scenes.procedural", reason="the house generator is not built yet")
    glb, semantic = procedural.write_house(100001, tmp_path)
    spec = resolve_scene(glb)
    hab.export_habitat_semantics(spec)
    mesh = hab.read_semantic_glb(spec.glb.with_name(f"{spec.scene_id}.semantic.glb"))
    descriptor = read_descriptor(spec.glb.with_name(f"{spec.scene_id}.semantic.txt"))
    json_ids = {o["id"] for o in json.loads(semantic.read_text())["objects"]}
    assert set(descriptor) == json_ids
    assert set(np.unique(mesh["object_ids"]).tolist()) == json_ids | {0}


# ---------------------------------------------------------------- pathfinder wrapper (habitat's API, stood in)
class _FakePath:
    def __init__(self):
        self.requested_start = None
        self.requested_end = None
        self.requested_ends = None
        self.points: list = []
        self.geodesic_distance = math.inf


class _FakeMultiPath02(_FakePath):
    """0.2's MultiGoalShortestPath: no closest_end_point_index."""


class _FakeMultiPath03(_FakePath):
    def __init__(self):
        super().__init__()
        self.closest_end_point_index = -1


#: the stand-in navmesh's islands: (centre x, half size, height y, island radius)
_ISLANDS = ((0.0, 2.0, 0.0, 2.0 * math.sqrt(2.0)), (5.0, 0.3, 0.7, 0.3 * math.sqrt(2.0)))


class _FakePathFinder02:
    """habitat-sim 0.2's PathFinder on two islands: the floor (|x|, |z| <= 2 at y = 0) and a table top
    (|x - 5|, |z| <= 0.3 at y = 0.7), as habitat-sim makes of furniture; straight paths within an island.
    habitat's shapes: float32 arrays in and out."""

    is_loaded = True
    navigable_area = 16.36

    def __init__(self):
        self._rng = np.random.default_rng(0)
        self.saved: list[str] = []
        self.loaded: list[str] = []
        self.nav_mesh_settings = None

    def _island(self, p) -> int | None:
        for i, (cx, half, y, _) in enumerate(_ISLANDS):
            if abs(p[0] - cx) <= half + 1e-6 and abs(p[2]) <= half + 1e-6 and abs(p[1] - y) < 0.5:
                return i
        return None

    def is_navigable(self, pt, max_y_delta=0.5):
        assert isinstance(pt, np.ndarray) and pt.dtype == np.float32
        return self._island(pt) is not None

    def island_radius(self, pt):
        i = self._island(pt)
        return 0.0 if i is None else _ISLANDS[i][3]

    def _snap_to(self, pt, i):
        cx, half, y, _ = _ISLANDS[i]
        return np.array([np.clip(pt[0], cx - half, cx + half), y, np.clip(pt[2], -half, half)], dtype=np.float32)

    def snap_point(self, pt):
        snaps = [self._snap_to(pt, i) for i in range(len(_ISLANDS))]
        return min(snaps, key=lambda s: float(np.linalg.norm(s - pt)))

    def seed(self, new_seed):
        self._rng = np.random.default_rng(new_seed)

    def get_random_navigable_point(self, max_tries=10):
        i = int(self._rng.random() < 0.3)  # a third of the draws land on the table
        cx, half, y, _ = _ISLANDS[i]
        x, z = self._rng.uniform(-half, half, 2)
        return np.array([cx + x, y, z], dtype=np.float32)

    def build_navmesh_vertices(self):
        return [np.array([cx + sx * half, y, sz * half], dtype=np.float32)
                for cx, half, y, _ in _ISLANDS for sx in (-1, 1) for sz in (-1, 1)]

    def get_bounds(self):
        return np.array([-2, 0, -2], dtype=np.float32), np.array([5.3, 0.7, 2], dtype=np.float32)

    def try_step(self, start, end):
        assert start.dtype == end.dtype == np.float32
        return self._snap_to(end, self._island(start))

    def try_step_no_sliding(self, start, end):
        return self.try_step(start, end)

    def get_topdown_view(self, meters_per_pixel, height):
        n = int(4 / meters_per_pixel)
        return np.ones((n, n), dtype=np.uint8)

    def distance_to_closest_obstacle(self, pt, max_search_radius=2.0):
        return 2.0 - max(abs(pt[0]), abs(pt[2]))

    def find_path(self, path):
        multi = not hasattr(path, "requested_end") or path.requested_end is None
        ends = list(path.requested_ends) if multi else [path.requested_end]
        start = path.requested_start
        island = self._island(start)
        reachable = [(float(np.linalg.norm(e - start)), i) for i, e in enumerate(ends)
                     if island is not None and self._island(e) == island]
        if not reachable:
            return False
        dist, i = min(reachable)
        path.points = [start.copy(), ends[i].copy()]
        path.geodesic_distance = dist
        if hasattr(path, "closest_end_point_index"):
            path.closest_end_point_index = i
        return True

    def save_nav_mesh(self, path):
        Path(path).write_bytes(b"navmesh")
        self.saved.append(str(path))
        return True

    def load_nav_mesh(self, path):
        self.loaded.append(str(path))
        return Path(path).is_file()


class _FakePathFinder03(_FakePathFinder02):
    """0.3's PathFinder: islands by index."""

    num_islands = len(_ISLANDS)

    def island_radius(self, pt=None, island_index=None):
        return _ISLANDS[island_index][3] if island_index is not None else super().island_radius(pt)

    def get_random_navigable_point(self, max_tries=10, island_index=-1):
        while True:
            p = super().get_random_navigable_point(max_tries)
            if island_index == -1 or self._island(p) == island_index:
                return p

    def snap_point(self, point, island_index=-1):
        return super().snap_point(point) if island_index == -1 else self._snap_to(point, island_index)


#: the stand-ins by habitat-sim version
_FAKES = {"0.2.2a2": (_FakePathFinder02, _FakeMultiPath02), "0.3.3": (_FakePathFinder03, _FakeMultiPath03)}


@pytest.fixture(params=sorted(_FAKES))
def fake_pathfinder(request):
    finder, multi = _FAKES[request.param]
    fake_hsim = SimpleNamespace(ShortestPath=_FakePath, MultiGoalShortestPath=multi)
    return hab.HabitatPathFinder(finder(), fake_hsim, hab.HabitatVersion.parse(request.param))


def test_pathfinder_wrapper_converts_our_paths(fake_pathfinder):
    pf = fake_pathfinder
    path = ShortestPath(requested_start=np.array([0.0, 0.0, 0.0]), requested_end=np.array([1.0, 0.0, 0.0]))
    assert pf.find_path(path) and path.geodesic_distance == pytest.approx(1.0)
    assert all(p.dtype == np.float64 and p.shape == (3,) for p in path.points)
    multi = MultiGoalShortestPath(requested_start=np.zeros(3),
                                  requested_ends=[np.array([1.5, 0, 1.5]), np.array([0.0, 0, 1.0]),
                                                  np.array([5.0, 0.7, 0.0])])
    assert pf.find_path(multi)  # 0.3 says which end it reached; for 0.2 the wrapper works it out
    assert multi.closest_end_point_index == 1 and multi.geodesic_distance == pytest.approx(1.0)
    lost = ShortestPath(requested_start=np.zeros(3), requested_end=np.array([5.0, 0.7, 0.0]))  # another island
    assert not pf.find_path(lost) and math.isinf(lost.geodesic_distance) and lost.points == []
    with pytest.raises(ValueError, match="requested_start"):
        pf.find_path(ShortestPath(requested_end=np.zeros(3)))


def test_pathfinder_wrapper_queries_take_lists_and_give_float64(fake_pathfinder):
    pf = fake_pathfinder
    assert isinstance(pf, PathFinder)  # every method of the protocol is the wrapper's own, not forwarded
    assert pf.geodesic_distance([0, 0, 0], [0, 0, 2]) == pytest.approx(2.0)
    assert pf.geodesic_distance([0, 0, 0], [[0, 0, 2], [1, 0, 0]]) == pytest.approx(1.0)
    assert math.isinf(pf.geodesic_distance([0, 0, 0], [30, 0, 30]))
    assert math.isinf(pf.geodesic_distance([0, 0, 0], []))
    assert pf.is_navigable([1, 0, 1]) is True and pf.is_navigable([3, 0, 0]) is False
    snapped = pf.snap_point([3, 0.2, 0])
    assert snapped.dtype == np.float64 and snapped.tolist() == [2.0, 0.0, 0.0]
    lo, hi = pf.get_bounds()
    assert lo.dtype == np.float64 and hi.tolist() == pytest.approx([5.3, 0.7, 2.0])
    assert pf.navigable_area == pytest.approx(16.36) and pf.is_loaded
    for step in (pf.try_step, pf.try_step_no_sliding):  # lists in, habitat's float32 through, float64 out
        end = step([0, 0, 0], [3, 0, 0])
        assert end.dtype == np.float64 and end.tolist() == [2.0, 0.0, 0.0]
    assert pf.island_radius([1, 0, 1]) == pytest.approx(2 * math.sqrt(2)) and pf.island_radius([9, 0, 9]) == 0.0
    view = pf.get_topdown_view(0.5, 0.0)
    assert view.dtype == bool and view.shape == (8, 8)
    assert pf.distance_to_closest_obstacle(np.zeros(3, np.float32)) == 2.0  # the rest passes through


def test_random_points_and_placement_stay_on_the_agents_island(fake_pathfinder):
    pf = fake_pathfinder
    raw = pf.habitat_pathfinder
    raw.seed(1)
    assert any(p[1] > 0.5 for p in (raw.get_random_navigable_point() for _ in range(50)))  # habitat's own: both
    pf.seed(1)
    points = np.array([pf.get_random_navigable_point() for _ in range(200)])
    assert points.dtype == np.float64 and np.all(points[:, 1] == 0.0) and np.all(np.abs(points[:, 0]) <= 2)
    pf.seed(1)
    np.testing.assert_array_equal(points[:20], [pf.get_random_navigable_point() for _ in range(20)])  # seeded
    table = [5.0, 0.7, 0.0]
    assert pf.is_navigable(table) and raw.snap_point(np.float32(table))[1] == pytest.approx(0.7)  # habitat's own
    snapped = pf.snap_point(table)  # onto the agent's island: the floor's edge nearest the table
    assert snapped.dtype == np.float64 and snapped.tolist() == pytest.approx([2.0, 0.0, 0.0])
    assert pf.snap_point([1.0, 0.3, 1.0]).tolist() == [1.0, 0.0, 1.0]  # on the floor already


def test_a_navmesh_of_other_islands_only_is_named():
    class TableTops(_FakePathFinder02):
        def get_random_navigable_point(self, max_tries=10):
            return np.array([5.0, 0.7, 0.0], dtype=np.float32)

    pf = hab.HabitatPathFinder(TableTops(), SimpleNamespace(), hab.HabitatVersion.parse("0.2.2"))
    with pytest.raises(RuntimeError, match="agent's island"):
        pf.get_random_navigable_point()


# ---------------------------------------------------------------- observation conversion
def test_observations_are_converted_and_copied():
    rgba = np.random.default_rng(0).integers(0, 255, (4, 6, 4), dtype=np.uint8)
    depth = np.full((4, 6), 1.5, dtype=np.float32)
    semantic = np.full((4, 6), 7, dtype=np.uint32)
    raw = {"rgb": np.flip(rgba, axis=0), "depth": depth, "semantic": semantic, "collided": True}
    obs = hab.convert_observations(raw, True)
    assert obs["rgb"].shape == (4, 6, 3) and obs["rgb"].dtype == np.uint8
    np.testing.assert_array_equal(obs["rgb"], np.flip(rgba, axis=0)[..., :3])
    assert obs["depth"].shape == (4, 6, 1) and obs["depth"].dtype == np.float32
    assert obs["semantic"].shape == (4, 6) and obs["semantic"].dtype == np.int32
    assert obs["collided"] is True
    rgba[:] = 0
    depth[:] = 0
    semantic[:] = 0  # habitat-sim reuses these buffers on the next frame
    assert obs["rgb"].any() and obs["depth"][0, 0, 0] == 1.5 and obs["semantic"][0, 0] == 7
    assert set(hab.convert_observations({"depth": depth}, False)) == {"depth", "collided"}


def test_objects_from_a_habitat_semantic_scene():
    def obj(sid, name, center, sizes, oid):
        return SimpleNamespace(semantic_id=sid, id=oid, category=SimpleNamespace(name=lambda: name),
                               aabb=SimpleNamespace(center=np.array(center), sizes=np.array(sizes)), region=None)

    scene = SimpleNamespace(objects=[None, obj(0, "Unknown", [0, 0, 0], [0, 0, 0], "Unknown_0"),
                                     obj(5, "chair", [1, 0.5, 1], [0.4, 1.0, 0.4], "chair_5"),
                                     obj(2, "bed", [0, 0.3, 0], [2, 0.6, 1], "bed_2")])
    objects = hab.semantic_scene_objects(scene)
    assert [(o.id, o.category, o.node) for o in objects] == [(2, "bed", "bed_2"), (5, "chair", "chair_5")]
    np.testing.assert_allclose(objects[1].aabb, [[0.8, 0.0, 0.8], [1.2, 1.0, 1.2]])


# ---------------------------------------------------------------- HabitatSim on a strict stand-in for habitat_sim
class _Strict:
    """Only the attributes habitat-sim's bindings define (SimBindings.cpp, SensorBindings.cpp,
    ShortestPathBindings.cpp, agent/agent.py) may be set: a misspelt name fails here."""

    _fields: tuple[str, ...] = ()

    def __setattr__(self, name, value):
        if name not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        object.__setattr__(self, name, value)


class _SimulatorConfiguration(_Strict):
    _fields = ("scene_dataset_config_file", "scene_id", "random_seed", "default_agent_id", "gpu_device_id",
               "allow_sliding", "create_renderer", "frustum_culling", "enable_physics", "use_semantic_textures",
               "physics_config_file", "override_scene_light_defaults", "scene_light_setup", "load_semantic_mesh",
               "force_separate_semantic_scene_graph", "requires_textures")


class _CameraSensorSpec(_Strict):
    _fields = ("uuid", "sensor_type", "sensor_subtype", "position", "orientation", "noise_model", "near", "far",
               "resolution", "gpu2gpu_transfer", "channels", "clear_color", "hfov", "ortho_scale")


class _NavMeshSettings02(_Strict):
    _fields = ("cell_size", "cell_height", "agent_height", "agent_radius", "agent_max_climb", "agent_max_slope",
               "region_min_size", "region_merge_size", "edge_max_len", "edge_max_error", "verts_per_poly",
               "detail_sample_dist", "detail_sample_max_error", "filter_low_hanging_obstacles",
               "filter_ledge_spans", "filter_walkable_low_height_spans")

    def set_defaults(self):
        for k, v in dict(cell_size=0.05, cell_height=0.2, agent_height=1.5, agent_radius=0.1, agent_max_climb=0.2,
                         agent_max_slope=45.0).items():
            setattr(self, k, v)


class _NavMeshSettings03(_NavMeshSettings02):
    _fields = (*_NavMeshSettings02._fields, "include_static_objects")


class _AgentConfiguration(_Strict):
    _fields = ("height", "radius", "sensor_specifications", "action_space", "body_type")


class _Quat:  # numpy-quaternion's .real / .imag
    def __init__(self, coeffs):
        self.imag, self.real = np.asarray(coeffs[:3], dtype=np.float64), float(coeffs[3])


class _AgentState(_Strict):
    _fields = ("position", "rotation", "sensor_states")


class _FakeAgent:
    def __init__(self):
        self.position, self.rotation = np.zeros(3, dtype=np.float32), _Quat([0, 0, 0, 1])

    def get_state(self):
        state = _AgentState()
        state.position, state.rotation = np.array(self.position), self.rotation
        return state

    def set_state(self, state, reset_sensors=True, infer_sensor_states=True, is_initial=False):
        assert isinstance(state.rotation, _Quat) and state.position.dtype == np.float32
        self.position, self.rotation = np.array(state.position), state.rotation


class _FakeSimulator:
    instances: list = []
    pathfinder_class: type = _FakePathFinder02

    def __init__(self, config):
        self.config, self.closed, self.reconfigured, self.recomputed = config, [], 0, []
        self.pathfinder = self.pathfinder_class()
        self.agent = _FakeAgent()
        self.semantic_scene = SimpleNamespace(objects=[])
        _FakeSimulator.instances.append(self)

    def reconfigure(self, config):
        self.config, self.reconfigured = config, self.reconfigured + 1

    def recompute_navmesh(self, pathfinder, navmesh_settings, *include_static_objects):
        assert len(include_static_objects) <= (1 if self.pathfinder_class is _FakePathFinder02 else 0)
        self.recomputed.append(navmesh_settings)
        return True

    def get_agent(self, agent_id):
        assert agent_id == 0
        return self.agent

    def get_sensor_observations(self, agent_ids=0):
        h, w = self.config.agents[0].sensor_specifications[0].resolution
        return {"rgb": np.full((h, w, 4), 9, np.uint8), "depth": np.full((h, w), 2.0, np.float32),
                "semantic": np.full((h, w), 3, np.uint32)}

    def step(self, action, dt=1.0 / 60.0):
        assert action in self.config.agents[0].action_space
        if action == "move_forward":
            self.agent.position = self.agent.position + np.array([0, 0, -0.25], np.float32)
        return {**self.get_sensor_observations(), "collided": action == "move_forward"}

    def close(self, destroy=True):
        self.closed.append(destroy)


@pytest.fixture(params=sorted(_FAKES))
def fake_habitat(request, monkeypatch):
    """A stand-in for habitat_sim of version ``request.param``, with only the names its bindings have."""
    version = request.param
    common = SimpleNamespace(quat_from_coeffs=_Quat,
                             quat_to_coeffs=lambda q: np.array([*q.imag, q.real]))
    utils = SimpleNamespace(common=common)
    finder, multi = _FAKES[version]
    settings = _NavMeshSettings02 if finder is _FakePathFinder02 else _NavMeshSettings03
    simulator_class = type("Simulator", (_FakeSimulator,), {"pathfinder_class": finder})
    module = SimpleNamespace(
        __version__=version,
        SimulatorConfiguration=_SimulatorConfiguration, CameraSensorSpec=_CameraSensorSpec,
        SensorType=SimpleNamespace(COLOR="COLOR", DEPTH="DEPTH", SEMANTIC="SEMANTIC"),
        SensorSubType=SimpleNamespace(PINHOLE="PINHOLE"),
        agent=SimpleNamespace(AgentConfiguration=_AgentConfiguration,
                              ActionSpec=lambda name, actuation=None: SimpleNamespace(name=name, actuation=actuation),
                              ActuationSpec=lambda amount: SimpleNamespace(amount=amount)),
        Configuration=lambda sim_cfg, agents: SimpleNamespace(sim_cfg=sim_cfg, agents=agents),
        Simulator=simulator_class, AgentState=_AgentState, utils=utils,
        nav=SimpleNamespace(NavMeshSettings=settings),
        gfx=SimpleNamespace(DEFAULT_LIGHTING_KEY="", NO_LIGHT_KEY="no_lights"),
        ShortestPath=_FakePath, MultiGoalShortestPath=multi)
    monkeypatch.setitem(sys.modules, "habitat_sim", module)
    monkeypatch.setitem(sys.modules, "habitat_sim.utils", utils)
    monkeypatch.setitem(sys.modules, "habitat_sim.utils.common", common)
    monkeypatch.delenv("HSIM_DISABLE_CUDA_DEVICE", raising=False)
    _FakeSimulator.instances = []
    return module


def test_habitat_sim_drives_the_habitat_api(fake_habitat, tmp_path):
    spec, _ = _write_scene(tmp_path)
    config = SimConfig(width=32, height=24, hfov=70.0, sensor_height=0.9, forward_step_size=0.3,
                       turn_angle=15.0, max_climb=0.15, allow_sliding=False)
    sim = hab.HabitatSim(config)
    assert sim.version == hab.HabitatVersion.parse(fake_habitat.__version__)
    with pytest.raises(RuntimeError, match="no scene loaded"):
        sim.observe()
    sim.load_scene(spec)
    (backend,) = _FakeSimulator.instances
    cfg = backend.config
    assert cfg.sim_cfg.scene_id == str(tmp_path / "tiny.semantic.stage_config.json")
    assert cfg.sim_cfg.enable_physics is False and cfg.sim_cfg.allow_sliding is False
    assert cfg.sim_cfg.gpu_device_id == hab.habitat_gpu_device(0, hab.egl_cuda_devices())  # -1 without CUDA
    assert cfg.sim_cfg.scene_light_setup == "" and cfg.sim_cfg.override_scene_light_defaults  # v4s house: lit
    sensors = {s.uuid: s for s in cfg.agents[0].sensor_specifications}
    assert list(sensors) == ["rgb", "depth", "semantic"]
    assert [sensors[k].sensor_type for k in sensors] == ["COLOR", "DEPTH", "SEMANTIC"]
    assert all(s.resolution == [24, 32] and s.position == [0.0, 0.9, 0.0] and s.hfov == 70.0
               for s in sensors.values())
    space = cfg.agents[0].action_space
    assert {k: v.actuation.amount for k, v in space.items()} == {"move_forward": 0.3, "turn_left": 15.0,
                                                                 "turn_right": 15.0}
    assert cfg.agents[0].radius == config.agent_radius and cfg.agents[0].height == config.agent_height
    (navmesh,) = backend.recomputed  # no navmesh of this agent yet: built, and saved beside the stage
    assert (navmesh.agent_max_climb, navmesh.agent_radius, navmesh.cell_size) == (0.15, 0.18, 0.05)
    assert navmesh.cell_height == hab.NAVMESH_CELL_HEIGHT
    saved = hab.navmesh_file(spec, config)
    assert saved.parent == tmp_path and saved.is_file() and not list(tmp_path.glob(".*.tmp*"))
    # the agent starts on its island, not on the table top nearer the navmesh's centre
    assert sim.agent_state.position[1] == 0.0 and sim.pathfinder.island_radius(sim.agent_state.position) > 2

    assert [o.id for o in sim.objects] == [3, 12, 40000]
    obs = sim.observe()
    assert obs["rgb"].shape == (24, 32, 3) and obs["depth"].shape == (24, 32, 1) and obs["collided"] is False
    obs = sim.step("move_forward")
    assert obs["collided"] is True and sim.previous_step_collided
    with pytest.raises(InvalidActionError, match=r"'fly'.*valid actions"):
        sim.step("fly")

    sim.set_agent_state([1.0, 0.3, 1.0], [0.0, math.sin(0.5), 0.0, math.cos(0.5)])
    state = sim.agent_state
    np.testing.assert_allclose(state.position, [1.0, 0.0, 1.0])  # height from the navmesh
    np.testing.assert_allclose(state.rotation, [0.0, math.sin(0.5), 0.0, math.cos(0.5)], atol=1e-12)
    sim.set_agent_state([0.5, 0.0, 0.5])  # keeps the heading
    np.testing.assert_allclose(sim.agent_state.rotation, state.rotation, atol=1e-12)
    with pytest.raises(NotNavigableError, match=r"\[3.0, 0.0, 0.0\].*nearest navigable point is \[2.0"):
        sim.set_agent_state([3.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="only rotates about"):
        sim.set_agent_state([0.0, 0.0, 0.0], [math.sin(0.2), 0.0, 0.0, math.cos(0.2)])
    assert sim.pathfinder.geodesic_distance([0, 0, 0], [1, 0, 0]) == pytest.approx(1.0)

    sim.load_scene(spec)  # the loaded scene: nothing happens
    assert backend.reconfigured == 0 and backend.closed == []
    plain = SceneSpec(scene_id="plain", glb=spec.glb, semantic=None)
    sim.load_scene(plain)  # another stage: free assets, keep the GL context, reconfigure
    assert backend.closed == [False] and backend.reconfigured == 1
    assert backend.config.sim_cfg.scene_light_setup == "no_lights"  # a scan without v4s metadata: flat
    sim.close()
    sim.close()
    assert backend.closed == [False, True]
    with pytest.raises(RuntimeError, match="closed"):
        sim.load_scene(spec)

    again = hab.HabitatSim(config)  # the saved navmesh is loaded, not rebuilt
    again.load_scene(spec)
    assert _FakeSimulator.instances[-1].recomputed == [] and _FakeSimulator.instances[-1].pathfinder.loaded == [
        str(saved)]
    again.close()


def test_a_cuda_device_that_is_not_there_is_named_before_habitat_sim_starts(fake_habitat, tmp_path):
    spec, _ = _write_scene(tmp_path)
    sim = hab.HabitatSim(SimConfig(gpu_device_id=97))
    with pytest.raises(ValueError, match="sim.gpu_device_id=97"):
        sim.load_scene(spec)
    assert _FakeSimulator.instances == []  # habitat-sim was never asked


# ---------------------------------------------------------------- the real habitat-sim
def test_habitat_sim_renders_our_semantic_ids(habitat, tmp_path):
    spec, boxes = _write_scene(tmp_path)
    sim = hab.HabitatSim(SimConfig(width=64, height=64))
    try:
        sim.load_scene(spec)
        assert [(o.id, o.category) for o in sim.objects] == [(3, "chair"), (12, "bed"), (40000, "plant")]
        # habitat's own semantic scene agrees with the descriptor we wrote
        habitat_ids = {int(o.semantic_id): o.category.name() for o in sim.habitat_sim.semantic_scene.objects
                       if o is not None and int(o.semantic_id) > 0}
        assert habitat_ids == {3: "chair", 12: "bed", 40000: "plant"}
        # stand in front of the chair (at x = 1, z = 0) and look at it down -z
        sim.set_agent_state([1.0, 0.0, 1.2], [0.0, 0.0, 0.0, 1.0])
        obs = sim.observe()
        assert obs["rgb"].shape == (64, 64, 3) and obs["depth"].shape == (64, 64, 1)
        assert obs["semantic"].dtype == np.int32 and obs["semantic"][44, 32] == 3
        assert obs["depth"][44, 32, 0] == pytest.approx(1.2 - 0.25, abs=0.05)  # z-depth to the chair's front
        assert set(np.unique(obs["semantic"]).tolist()) <= {0, 3, 12, 40000}
        obs = sim.step("turn_left")
        assert obs["collided"] is False and not sim.previous_step_collided
    finally:
        sim.close()
        sim.close()  # idempotent


def test_the_render_device_is_chosen_without_help(habitat, monkeypatch, tmp_path):
    # on a machine without CUDA, habitat-sim's default gpu_device_id=0 would end the process in context
    # creation; the backend renders on the default EGL device instead, with no HSIM_DISABLE_CUDA_DEVICE
    monkeypatch.delenv("HSIM_DISABLE_CUDA_DEVICE", raising=False)
    spec, _ = _write_scene(tmp_path)
    with hab.HabitatSim(SimConfig(width=16, height=16, sensors=("rgb",))) as sim:
        sim.load_scene(spec)
        assert sim.gpu_device == hab.habitat_gpu_device(0, hab.egl_cuda_devices())
        assert sim.observe()["rgb"].std() > 0
    with pytest.raises(ValueError, match="sim.gpu_device_id=97"):
        hab.HabitatSim(SimConfig(gpu_device_id=97)).load_scene(spec)


def test_the_oracles_pathfinder_is_the_envs_navmesh(habitat):
    config = SimConfig(width=16, height=16, sensors=("rgb",))
    with hab.HabitatSim(config) as sim:
        sim.load_scene(HOUSE_ID)
        saved = hab.navmesh_file(resolve_scene(HOUSE_ID), config)
        built = saved.stat().st_mtime
        planner = scene_pathfinder("habitat", HOUSE_ID, config)  # no renderer: the file the sim saved
        assert isinstance(planner, hab.HabitatPathFinder) and planner is not sim.pathfinder
        assert scene_pathfinder("habitat", HOUSE_ID, config) is planner  # one per house and process
        assert planner.navigable_area == pytest.approx(sim.pathfinder.navigable_area)
        sim.pathfinder.seed(4)
        for _ in range(10):
            a, b = sim.pathfinder.get_random_navigable_point(), sim.pathfinder.get_random_navigable_point()
            assert planner.geodesic_distance(a, b) == pytest.approx(sim.pathfinder.geodesic_distance(a, b), abs=1e-5)
            target = a + np.array([0.25, 0.0, 0.0])
            np.testing.assert_allclose(planner.try_step(a, target), sim.pathfinder.try_step(a, target), atol=1e-5)
    assert saved.stat().st_mtime == built  # a new sim loads it rather than building it again
    with hab.HabitatSim(config) as again:
        again.load_scene(HOUSE_ID)
    assert saved.stat().st_mtime == built


def test_a_house_navmesh_has_furniture_islands_and_the_agent_keeps_to_the_floor(habitat):
    with hab.HabitatSim(SimConfig(width=16, height=16, sensors=("rgb",))) as sim:
        sim.load_scene(HOUSE_ID)
        pf = sim.pathfinder
        raw = pf.habitat_pathfinder
        raw.seed(0)
        heights = np.array([raw.get_random_navigable_point()[1] for _ in range(200)])
        assert heights.max() > 0.3  # habitat's own draws reach the tops of furniture
        start = sim.agent_state.position
        floor = pf.island_radius(start)
        assert floor >= 1.5  # the agent starts on the largest island (habitat-lab's ISLAND_RADIUS_LIMIT and up)
        pf.seed(0)
        for _ in range(50):
            p = pf.get_random_navigable_point()
            assert pf.island_radius(p) == pytest.approx(floor) and math.isfinite(pf.geodesic_distance(start, p))

"""Procedural houses: determinism, layout rules, GLB round trip, navigability. Real files, no mocks."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from v4s.envs.scenes import procedural
from v4s.envs.scenes.procedural.layout import _connected
from v4s.envs.scenes.semantic import OBJECTNAV_CATEGORIES, load_semantic
from v4s.envs.scenes.spec import house_id

SEEDS = list(range(20))


@pytest.fixture(scope="module")
def houses() -> dict[int, procedural.GeneratedHouse]:
    return {s: procedural.generate_house(s) for s in SEEDS}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[int, tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("houses")
    return {s: procedural.write_house(s, out / "nested" / "dir") for s in (3, 11, 100_007)}


def _glb_json(path: Path) -> dict:
    data = path.read_bytes()
    magic, version, _length = struct.unpack("<4sII", data[:12])
    assert magic == b"glTF" and version == 2
    n = struct.unpack("<I", data[12:16])[0]
    return json.loads(data[20:20 + n])


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes(tmp_path, written):
    glb, sem = procedural.write_house(3, tmp_path)
    glb0, sem0 = written[3]
    assert glb.read_bytes() == glb0.read_bytes()
    assert sem.read_text() == sem0.read_text()


def test_same_bytes_across_processes(tmp_path, written):
    # a fresh interpreter with another hash seed must write the very same files
    code = f"from v4s.envs.scenes.procedural import write_house; write_house(3, {str(tmp_path)!r})"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    glb0, sem0 = written[3]
    assert (tmp_path / glb0.name).read_bytes() == glb0.read_bytes()
    assert (tmp_path / sem0.name).read_bytes() == sem0.read_bytes()


def test_different_seeds_differ(written, houses):
    a, b = written[3][0].read_bytes(), written[11][0].read_bytes()
    assert a != b
    layouts = {tuple((r.type, r.aabb) for r in houses[s].metadata.rooms) for s in SEEDS}
    assert len(layouts) == len(SEEDS)


# ----------------------------------------------------------------------------- files and metadata


def test_write_house_paths_and_metadata(written):
    glb, sem = written[100_007]
    assert glb.name == "house-100007.glb" and sem.name == "house-100007.semantic.json"
    assert glb.parent.name == "dir" and glb.is_file() and sem.is_file()
    assert not [p for p in glb.parent.iterdir() if p.name.endswith(".tmp")]
    meta = load_semantic(sem)
    assert meta.scene_id == house_id(100_007)
    assert meta.generator == {"name": "v4s.procedural", "version": 1, "seed": 100_007}
    assert meta.floor_height == 0.0
    assert meta.generated_by_v4s


def test_custom_scene_id(tmp_path):
    glb, sem = procedural.write_house(5, tmp_path, scene_id="my-house")
    assert glb == tmp_path / "my-house.glb" and sem == tmp_path / "my-house.semantic.json"
    assert load_semantic(sem).scene_id == "my-house"


# ----------------------------------------------------------------------------- layout rules over seeds


def test_rooms_and_categories(houses):
    counts = set()
    for seed, h in houses.items():
        m = h.metadata
        assert 2 <= len(m.rooms) <= 6
        counts.add(len(m.rooms))
        types = [r.type for r in m.rooms]
        assert all(t in procedural.ROOM_TYPES for t in types)
        assert "living_room" in types
        cats = {o.category for o in m.objects} & set(OBJECTNAV_CATEGORIES)
        assert len(cats) >= 3, (seed, cats)
        assert [o.id for o in m.objects] == list(range(1, len(m.objects) + 1))
        for o in m.objects:
            assert o.node == f"object_{o.id:04d}_{o.category}"
            assert 0 <= o.room < len(m.rooms)
        tris = sum(len(g.faces) for g in h.scene.geometry.values())
        assert tris <= procedural.MAX_TRIANGLES, (seed, tris)
    assert len(counts) >= 3  # the seeds cover several house sizes


def test_rooms_span_floor_to_ceiling(houses):
    for h in houses.values():
        ceilings = {r.aabb[1][1] for r in h.metadata.rooms}
        assert len(ceilings) == 1 and 2.6 - 1e-9 <= ceilings.pop() <= 3.0 + 1e-9
        for r in h.metadata.rooms:
            (x0, y0, z0), (x1, _, z1) = r.aabb
            assert y0 == 0.0
            assert x1 - x0 >= procedural.MIN_ROOM - procedural.WALL_T - 1e-6 and z1 - z0 >= procedural.MIN_ROOM - procedural.WALL_T - 1e-6


def test_objects_placement_rules(houses):
    for seed, h in houses.items():
        m, lay = h.metadata, h.layout
        ox, oz = lay.offset
        zones = [d.clear_zone() for d in lay.doors]
        flat = []
        for o in m.objects:
            (x0, y0, z0), (x1, y1, z1) = o.aabb
            room = m.rooms[o.room]
            (rx0, _, rz0), (rx1, ry1, rz1) = room.aabb
            # inside its room, >= 5 cm from the wall faces, below the ceiling
            assert x0 >= rx0 + 0.05 - 1e-4 and x1 <= rx1 - 0.05 + 1e-4, (seed, o)
            assert z0 >= rz0 + 0.05 - 1e-4 and z1 <= rz1 - 0.05 + 1e-4, (seed, o)
            assert y1 <= ry1
            if o.category == "tv_monitor":
                assert y0 >= 0.0
            else:
                assert abs(y0) < 1e-4, (seed, o)
            if o.category == "rug":
                assert y1 - y0 < 0.01
            local = procedural.Rect(x0 - ox, z0 - oz, x1 - ox, z1 - oz)
            assert not any(local.overlaps(z, eps=1e-4) for z in zones), (seed, o)
            if y0 < 1e-4:
                flat.append((o, local))
        for i, (a, ra) in enumerate(flat):  # footprints of floor-standing objects never overlap
            for b, rb in flat[i + 1:]:
                assert not ra.overlaps(rb, eps=1e-4), (seed, a, b)


def test_navigability(houses):
    for seed, h in houses.items():
        for radius in (0.18, 0.2):
            nav = procedural.navigability(h.layout, h.metadata.objects, radius=radius)
            assert nav["components"] == 1, (seed, radius, nav)
            assert nav["doors_free"] and nav["rooms_free"] and nav["goals_near"], (seed, radius, nav)


def test_doors_form_a_connected_plan(houses):
    for h in houses.values():
        lay = h.layout
        n = len(lay.rooms_u)
        assert len(lay.doors) >= n - 1
        assert _connected(n, [d.rooms for d in lay.doors])
        for d in lay.doors:
            assert 0.9 - 1e-9 <= (d.hi - d.lo) * procedural.UNIT <= 1.1 + 1e-9


# ----------------------------------------------------------------------------- GLB round trip


@pytest.mark.parametrize("seed", [3, 11])
def test_glb_roundtrip_nodes_and_aabbs(written, seed):
    glb, sem = written[seed]
    meta = load_semantic(sem)
    scene = trimesh.load(glb, force="scene")
    nodes = set(scene.graph.nodes_geometry)
    for o in meta.objects:
        assert o.node in nodes
        transform, geom = scene.graph[o.node]
        v = trimesh.transform_points(scene.geometry[geom].vertices, transform)
        assert np.allclose(v.min(axis=0), o.aabb[0], atol=1e-4), o
        assert np.allclose(v.max(axis=0), o.aabb[1], atol=1e-4), o
    for r in meta.rooms:
        for part in ("floor", "walls", "ceiling"):
            assert f"room_{r.id:02d}_{part}" in nodes
    assert any(name.startswith("door_") for name in nodes)


@pytest.mark.parametrize("seed", [3, 11])
def test_every_mesh_textured(written, seed):
    glb, _ = written[seed]
    scene = trimesh.load(glb, force="scene")
    for name, g in scene.geometry.items():
        assert isinstance(g.visual, trimesh.visual.TextureVisuals), name
        assert g.visual.uv is not None and len(g.visual.uv) == len(g.vertices), name
        img = g.visual.material.baseColorTexture
        assert img is not None and img.size[0] >= 4, name
    tree = _glb_json(glb)
    for prim in (p for m in tree["meshes"] for p in m["primitives"]):
        assert "COLOR_0" not in prim["attributes"]
        assert "TEXCOORD_0" in prim["attributes"] and "material" in prim
    mats = [m.get("name") for m in tree["materials"]]
    assert mats.count("palette") == 1  # one shared palette material (and image) for all furniture
    assert len(tree["images"]) == len(tree["materials"])
    pal = tree["materials"][mats.index("palette")]["pbrMetallicRoughness"]["baseColorTexture"]["index"]
    assert tree["samplers"][tree["textures"][pal]["sampler"]]["magFilter"] == 9728  # NEAREST
    for i, tex in enumerate(tree["textures"]):
        if i != pal:
            assert tree["samplers"][tex["sampler"]]["wrapS"] == 10497  # REPEAT


def test_rooms_have_distinct_textures(houses):
    for h in houses.values():
        walls = [h.scene.geometry[f"room_{r.id:02d}_walls"].visual.material.baseColorTexture.tobytes()
                 for r in h.metadata.rooms]
        floors = [h.scene.geometry[f"room_{r.id:02d}_floor"].visual.material.baseColorTexture.tobytes()
                  for r in h.metadata.rooms]
        assert len(set(walls)) == len(walls) and len(set(floors)) == len(floors)


def test_structure_faces_point_into_rooms(houses):
    h = houses[3]
    for r in h.metadata.rooms:
        (x0, _, z0), (x1, y1, z1) = r.aabb
        centre = np.array([(x0 + x1) / 2, y1 / 2, (z0 + z1) / 2])
        for part in ("floor", "walls", "ceiling"):
            g = h.scene.geometry[f"room_{r.id:02d}_{part}"]
            tri_c = g.triangles_center
            # every face normal points towards the room's centre (walls are flat quads)
            assert (np.einsum("ij,ij->i", g.face_normals, centre - tri_c) > 0).all(), (r.id, part)

"""User GLBs: textures the right way up, vertex colours, z-up scans, unlabelled scenes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from PIL import Image
from scene_fixtures import ROOM_HALF, write_box_room

from v4s.envs.scenes.mesh import load_scene_mesh
from v4s.envs.scenes.spec import SceneSpec, resolve_scene
from v4s.envs.sim import SimConfig, make_sim
from v4s.envs.sim.base import yaw_to_quaternion


def _wall_facing_camera(texture: Image.Image | None = None, color=None) -> trimesh.Trimesh:
    """A 4 x 4 m wall at z = -1 (facing +z) standing on a floor, textured top-to-bottom as the image."""
    wall = trimesh.Trimesh(vertices=[[-2, 0, -1], [2, 0, -1], [2, 4, -1], [-2, 4, -1]], faces=[[0, 1, 2], [0, 2, 3]],
                           process=False)
    if texture is not None:
        # glTF-style UVs as trimesh stores them: v = 0 at the bottom of the image
        wall.visual = trimesh.visual.TextureVisuals(
            uv=[[0, 0], [1, 0], [1, 1], [0, 1]],
            material=trimesh.visual.material.PBRMaterial(baseColorTexture=texture))
    else:
        wall.visual = trimesh.visual.ColorVisuals(wall, vertex_colors=np.tile(color, (4, 1)))
    return wall


def _scene_with(wall: trimesh.Trimesh, path, up_z: bool = False):
    floor = trimesh.creation.box([4, 0.02, 4]).apply_translation([0, -0.01, 1])
    scene = trimesh.Scene()
    scene.add_geometry(floor, node_name="floor")
    scene.add_geometry(wall, node_name="wall")
    if up_z:  # y-up -> z-up, as a scan exported z-up would be
        scene.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [1, 0, 0]))
    path.write_bytes(scene.export(file_type="glb"))
    return path


@pytest.fixture
def sim():
    s = make_sim("embedded", SimConfig(hfov=90.0, sensor_height=2.0, lighting="off"))
    yield s
    s.close()


def test_texture_is_rendered_the_right_way_up(sim, tmp_path):
    image = np.zeros((64, 64, 3), np.uint8)
    image[:32] = (255, 0, 0)  # top half red
    image[32:] = (0, 0, 255)  # bottom half blue
    glb = _scene_with(_wall_facing_camera(Image.fromarray(image)), tmp_path / "wall.glb")
    sim.load_scene(glb)
    sim.set_agent_state([0.0, 0.0, 0.5], yaw_to_quaternion(0.0))
    rgb = sim.observe()["rgb"]
    # the camera at 2 m looks at the wall's middle: red above the centre line, blue below
    assert tuple(rgb[40, 64]) == (255, 0, 0)
    assert tuple(rgb[88, 64]) == (0, 0, 255)


def test_vertex_colours_are_rendered(sim, tmp_path):
    glb = _scene_with(_wall_facing_camera(color=[20, 200, 60, 255]), tmp_path / "wall.glb")
    sim.load_scene(glb)
    sim.set_agent_state([0.0, 0.0, 0.5], yaw_to_quaternion(0.0))
    assert tuple(sim.observe()["rgb"][64, 64]) == (20, 200, 60)
    assert sim.objects == [] and not sim.observe()["semantic"].any()  # no semantic json: background only


def test_z_up_scene_loads_upright(sim, tmp_path):
    glb = _scene_with(_wall_facing_camera(color=[20, 200, 60, 255]), tmp_path / "scan.glb", up_z=True)
    mesh = load_scene_mesh(SceneSpec(scene_id="scan", glb=glb, up=(0, 0, 1), front=(0, 1, 0)))
    np.testing.assert_allclose(mesh.bounds, [[-2, -0.02, -1], [2, 4, 3]], atol=1e-5)
    sim.load_scene(SceneSpec(scene_id="scan", glb=glb, up=(0, 0, 1), front=(0, 1, 0)))
    sim.set_agent_state([0.0, 0.0, 0.5], yaw_to_quaternion(0.0))
    obs = sim.observe()
    assert tuple(obs["rgb"][64, 64]) == (20, 200, 60)
    assert obs["depth"][64, 64, 0] == pytest.approx(1.5, abs=0.02)


def test_glb_path_picks_up_its_semantic_json(tmp_path):
    glb, semantic = write_box_room(tmp_path)
    spec = resolve_scene(glb)
    assert spec.scene_id == "box_room" and spec.semantic == semantic
    mesh = load_scene_mesh(spec)
    assert set(np.unique(mesh.object_ids)) == {0, 7}
    assert mesh.bounds[0][1] == pytest.approx(-0.02) and mesh.bounds[1][0] == pytest.approx(ROOM_HALF + 0.1)


def test_basis_textures_warn_and_fall_back_to_base_colour(tmp_path, caplog):
    import json
    import struct

    glb = _scene_with(_wall_facing_camera(color=[20, 200, 60, 255]), tmp_path / "wall.glb")
    data = glb.read_bytes()
    length, = struct.unpack("<I", data[12:16])
    gltf = json.loads(data[20:20 + length])
    gltf["extensionsUsed"] = ["KHR_texture_basisu"]
    chunk = json.dumps(gltf).encode()
    chunk += b" " * (-len(chunk) % 4)
    rest = data[20 + length:]
    out = b"glTF" + struct.pack("<II", 2, 12 + 8 + len(chunk) + len(rest)) + struct.pack("<I", len(chunk)) + \
        b"JSON" + chunk + rest
    (tmp_path / "basis.glb").write_bytes(out)
    with caplog.at_level("WARNING"):
        mesh = load_scene_mesh(SceneSpec(scene_id="basis", glb=tmp_path / "basis.glb"))
    assert "Basis/KTX2" in caplog.text and "basis.glb" in caplog.text
    assert mesh.num_triangles == 14

"""Small hand-made scenes with known geometry, written as real GLB + semantic json files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from v4s.envs.scenes.semantic import SceneMetadata, SceneObject

ROOM_HALF = 2.0  #: the box room spans x, z in [-2, 2]
ROOM_HEIGHT = 2.5
BLOCK_CENTER = (1.0, 0.6, -1.0)  #: a 0.6 x 1.2 x 0.6 block labelled "cabinet", id 7
BLOCK_SIZE = (0.6, 1.2, 0.6)


def _textured(mesh: trimesh.Trimesh, rgb: tuple[int, int, int]) -> trimesh.Trimesh:
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    image[:] = rgb
    image[::2, ::2] = (np.asarray(rgb) * 0.7).astype(np.uint8)
    uv = mesh.vertices[:, [0, 2]] * 0.5
    mesh.visual = trimesh.visual.TextureVisuals(
        uv=uv, material=trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(image)))
    return mesh


def write_box_room(out: Path, with_block: bool = True) -> tuple[Path, Path]:
    """A closed 4 x 4 x 2.5 m room centred on the origin (floor y = 0), walls 0.1 m thick."""
    out.mkdir(parents=True, exist_ok=True)
    scene = trimesh.Scene()
    h, t = ROOM_HALF, 0.1
    floor = trimesh.creation.box([2 * h, 0.02, 2 * h]).apply_translation([0, -0.01, 0])
    scene.add_geometry(_textured(floor, (180, 150, 110)), node_name="floor", geom_name="floor")
    ceiling = trimesh.creation.box([2 * h, 0.02, 2 * h]).apply_translation([0, ROOM_HEIGHT + 0.01, 0])
    scene.add_geometry(_textured(ceiling, (230, 230, 230)), node_name="ceiling", geom_name="ceiling")
    walls = [([2 * h + 2 * t, ROOM_HEIGHT, t], [0, ROOM_HEIGHT / 2, -h - t / 2]),
             ([2 * h + 2 * t, ROOM_HEIGHT, t], [0, ROOM_HEIGHT / 2, h + t / 2]),
             ([t, ROOM_HEIGHT, 2 * h], [-h - t / 2, ROOM_HEIGHT / 2, 0]),
             ([t, ROOM_HEIGHT, 2 * h], [h + t / 2, ROOM_HEIGHT / 2, 0])]
    for i, (size, center) in enumerate(walls):
        wall = trimesh.creation.box(size).apply_translation(center)
        scene.add_geometry(_textured(wall, (90 + 40 * i, 120, 160)), node_name=f"wall_{i}", geom_name=f"wall_{i}")
    objects = []
    if with_block:
        block = trimesh.creation.box(BLOCK_SIZE).apply_translation(BLOCK_CENTER)
        scene.add_geometry(_textured(block, (200, 40, 40)), node_name="object_0007_cabinet", geom_name="block")
        lo, hi = block.bounds
        objects.append(SceneObject(id=7, category="cabinet", node="object_0007_cabinet", room=0,
                                   aabb=(tuple(map(float, lo)), tuple(map(float, hi)))))
    glb = out / "box_room.glb"
    glb.write_bytes(scene.export(file_type="glb"))
    semantic = out / "box_room.semantic.json"
    SceneMetadata(scene_id="box_room", objects=objects, floor_height=0.0).save(semantic)
    return glb, semantic

"""Small hand-made scenes with known geometry, written as real GLB + semantic json files."""

from __future__ import annotations

import json
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


#: the partitioned room: x in [-3, 3], z in [-2, 2] (world frame, metres); a wall at x = 0 runs from z = -2 to
#: PARTITION_END, so walking between the halves goes round it, through the gap at the +z wall
PARTITIONED_HALF = (3.0, 2.0)
PARTITION_END = 0.8
CHAIR_CENTER = (2.0, 0.45, -1.2)  #: a 0.5 x 0.9 x 0.5 block labelled "chair", id 3, in the +x half
CHAIR_SIZE = (0.5, 0.9, 0.5)
#: world (x, y, z), y up -> the coordinates of a z-up scan (habitat's frame for them: up +z, front +y)
WORLD_TO_Z_UP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


def write_zup_room(out: Path, name: str = "zup_room", units_per_metre: float = 1.0) -> Path:
    """A 6 x 4 x 2.5 m room split by a partition, with a chair, written as a z-up scan would be: the GLB in z-up
    coordinates (``units_per_metre`` units to the metre), ``<name>.stage_config.json`` beside it saying so
    (habitat-sim's ``up`` [0, 0, 1], ``front`` [0, 1, 0], ``scale``), and the chair labelled in
    ``<name>.semantic.json`` (world frame: y up, metres). Returns the GLB's path."""
    out.mkdir(parents=True, exist_ok=True)
    (hx, hz), t, height = PARTITIONED_HALF, 0.1, ROOM_HEIGHT
    boxes = {"floor": ([2 * hx, 0.02, 2 * hz], [0, -0.01, 0], (170, 140, 100)),
             "wall_n": ([2 * hx + 2 * t, height, t], [0, height / 2, -hz - t / 2], (120, 130, 170)),
             "wall_s": ([2 * hx + 2 * t, height, t], [0, height / 2, hz + t / 2], (130, 160, 120)),
             "wall_w": ([t, height, 2 * hz], [-hx - t / 2, height / 2, 0], (160, 120, 130)),
             "wall_e": ([t, height, 2 * hz], [hx + t / 2, height / 2, 0], (150, 150, 110)),
             "partition": ([t, height, PARTITION_END + hz], [0, height / 2, (PARTITION_END - hz) / 2], (200, 200, 200)),
             "object_0003_chair": (list(CHAIR_SIZE), list(CHAIR_CENTER), (40, 90, 200))}
    to_file = np.diag([units_per_metre] * 3 + [1.0]) @ WORLD_TO_Z_UP
    scene = trimesh.Scene()
    for node, (size, center, rgb) in boxes.items():
        box = trimesh.creation.box(size).apply_translation(center)
        box.visual.face_colors = (*rgb, 255)
        scene.add_geometry(box.apply_transform(to_file), node_name=node, geom_name=node)
    glb = out / f"{name}.glb"
    glb.write_bytes(scene.export(file_type="glb"))
    scale = 1.0 / units_per_metre
    (out / f"{name}.stage_config.json").write_text(json.dumps({
        "render_asset": glb.name, "collision_asset": glb.name, "up": [0, 0, 1], "front": [0, 1, 0],
        "scale": [scale] * 3, "origin": [0, 0, 0]}, indent=1))
    lo = np.asarray(CHAIR_CENTER) - np.asarray(CHAIR_SIZE) / 2
    hi = np.asarray(CHAIR_CENTER) + np.asarray(CHAIR_SIZE) / 2
    chair = SceneObject(id=3, category="chair", node="object_0003_chair", room=0,
                        aabb=(tuple(map(float, lo)), tuple(map(float, hi))))
    SceneMetadata(scene_id=name, objects=[chair], floor_height=0.0).save(out / f"{name}.semantic.json")
    return glb

"""Third-party-style rooms for the tests, each written as real files by a ``write_*`` function that returns
the ``.glb`` path: what users bring (CAD rooms, scans, compressed GLBs, HM3D semantics), not v4s houses.

Coordinates are the world's: metres, y up. Every room's floor is at y = 0 (the upper storey of the
two-storey building at ``UPPER_FLOOR``).
"""

from __future__ import annotations

import io
import json
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from v4s.envs.scenes.semantic import SceneMetadata, SceneObject

# glTF constants
_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_COMPONENT = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint8): _UBYTE, np.dtype(np.uint16): _USHORT,
              np.dtype(np.uint32): _UINT}

ROOM_HEIGHT = 2.6
#: the cluttered room: a 5 x 5 m floor of two triangles; a desk in the -x, -z corner carries thousands
CLUTTER_HALF = 2.5
DESK_CENTER, DESK_SIZE = (-1.6, 0.75, -1.9), (1.4, 0.05, 0.7)
#: the two-storey building: 8 x 6 m storeys; the upper floor's top at UPPER_FLOOR
BUILDING_HALF = (4.0, 3.0)
UPPER_FLOOR = 3.0
#: the pen room: a square pen of this side (metres) round the centre of a 6 x 6 m room
PEN_SIDE = 0.9
#: the colour rooms: 4 x 4 m; the wall at z = -2 is coloured WALL_RGB (as bytes), the floor textured
WALL_RGB = (26, 204, 77)
#: the HM3D rooms' objects: (name in the semantic descriptor, v4s category it maps to, centre, size)
HM3D_OBJECTS = (("armchair", "chair", (1.6, 0.45, -1.6), (0.6, 0.9, 0.6)),
                ("couch", "sofa", (-1.5, 0.4, 1.7), (1.6, 0.8, 0.7)),
                ("potted plant", "plant", (1.7, 0.5, 1.7), (0.4, 1.0, 0.4)),
                ("cabinet", "cabinet", (-1.8, 0.6, -1.5), (0.5, 1.2, 0.8)))


@dataclass
class Part:
    """One node of a GLB: a triangle mesh with what glTF lets it carry.

    ``colors`` is COLOR_0 as stored (float32, uint8 or uint16; RGB or RGBA), ``uv`` TEXCOORD_0 (glTF's
    convention: v grows downwards), ``texture`` an (h, w, 3|4) uint8 base-colour image, ``base_color``
    the RGBA factor (0-1); ``material`` False writes a primitive without material.
    """

    name: str
    positions: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None
    uv: np.ndarray | None = None
    texture: np.ndarray | None = None
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    material: bool = True
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  #: extra vertex attributes (``_OBJECT_ID``)


def write_glb(path: Path, parts: list[Part], extensions: tuple[str, ...] = ()) -> Path:
    """Write ``parts`` as a GLB, one node and mesh each. ``extensions`` are declared used and required
    (their data is not written: for files v4s must refuse before reading them)."""
    blobs, views, accessors, meshes, materials, images, textures = [], [], [], [], [], [], []
    offset = 0

    def add_view(data: bytes, target: int | None = None) -> int:
        nonlocal offset
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        views.append(view)
        padded = data + b"\0" * (-len(data) % 4)
        blobs.append(padded)
        offset += len(padded)
        return len(views) - 1

    def add_accessor(array: np.ndarray, kind: str, target: int, normalized: bool = False) -> int:
        array = np.ascontiguousarray(array)
        accessor = {"bufferView": add_view(array.tobytes(), target), "componentType": _COMPONENT[array.dtype],
                    "count": len(array), "type": kind}
        if normalized:
            accessor["normalized"] = True
        if kind == "VEC3" and array.dtype == np.float32:
            accessor["min"], accessor["max"] = array.min(axis=0).tolist(), array.max(axis=0).tolist()
        accessors.append(accessor)
        return len(accessors) - 1

    for part in parts:
        attributes = {"POSITION": add_accessor(np.asarray(part.positions, np.float32), "VEC3", 34962)}
        if part.colors is not None:
            attributes["COLOR_0"] = add_accessor(part.colors, f"VEC{part.colors.shape[1]}", 34962,
                                                 normalized=part.colors.dtype != np.float32)
        if part.uv is not None:
            attributes["TEXCOORD_0"] = add_accessor(np.asarray(part.uv, np.float32), "VEC2", 34962)
        for name, values in part.attributes.items():
            attributes[name] = add_accessor(values, "SCALAR", 34962)
        primitive = {"attributes": attributes, "mode": 4,
                     "indices": add_accessor(np.asarray(part.faces, np.uint32).reshape(-1), "SCALAR", 34963)}
        if part.material:
            pbr = {"baseColorFactor": list(part.base_color), "metallicFactor": 0.0, "roughnessFactor": 1.0}
            if part.texture is not None:
                png = io.BytesIO()
                Image.fromarray(part.texture).save(png, format="PNG")
                images.append({"bufferView": add_view(png.getvalue()), "mimeType": "image/png"})
                textures.append({"source": len(images) - 1, "sampler": 0})
                pbr["baseColorTexture"] = {"index": len(textures) - 1}
            materials.append({"pbrMetallicRoughness": pbr})
            primitive["material"] = len(materials) - 1
        meshes.append({"name": part.name, "primitives": [primitive]})
    gltf = {"asset": {"version": "2.0", "generator": "v4s tests/own_rooms.py"}, "scene": 0,
            "scenes": [{"nodes": list(range(len(parts)))}],
            "nodes": [{"name": part.name, "mesh": i} for i, part in enumerate(parts)],
            "meshes": meshes, "accessors": accessors, "bufferViews": views,
            "buffers": [{"byteLength": offset}]}
    for key, values in (("materials", materials), ("images", images), ("textures", textures)):
        if values:
            gltf[key] = values
    if textures:  # nearest texels, so that colours come back exact
        gltf["samplers"] = [{"magFilter": 9728, "minFilter": 9728}]
    if extensions:
        gltf["extensionsUsed"] = gltf["extensionsRequired"] = list(extensions)
    js = json.dumps(gltf).encode()
    js += b" " * (-len(js) % 4)
    binary = b"".join(blobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 28 + len(js) + len(binary)) + struct.pack("<II", len(js), 0x4E4F534A)
                     + js + struct.pack("<II", len(binary), 0x004E4942) + binary)
    return path


def _box(name: str, size, center, **visual) -> Part:
    mesh = trimesh.creation.box(size).apply_translation(center)
    return Part(name, np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces), **visual)


def _quad(name: str, corners, **visual) -> Part:
    """A rectangle of two triangles through ``corners`` (4, 3), counter-clockwise seen from its front."""
    return Part(name, np.asarray(corners, np.float32), np.array([[0, 1, 2], [0, 2, 3]]), **visual)


def _subdivided(part: Part, max_edge: float) -> Part:
    vertices, faces = trimesh.remesh.subdivide_to_size(part.positions, part.faces, max_edge=max_edge)
    return Part(part.name, np.asarray(vertices, np.float32), faces, base_color=part.base_color)


def _walls(hx: float, hz: float, bottom: float, height: float, prefix: str, **visual) -> list[Part]:
    t, y = 0.1, bottom + height / 2
    return [_box(f"{prefix}wall_n", [2 * hx + 2 * t, height, t], [0, y, -hz - t / 2], **visual),
            _box(f"{prefix}wall_s", [2 * hx + 2 * t, height, t], [0, y, hz + t / 2], **visual),
            _box(f"{prefix}wall_w", [t, height, 2 * hz], [-hx - t / 2, y, 0], **visual),
            _box(f"{prefix}wall_e", [t, height, 2 * hz], [hx + t / 2, y, 0], **visual)]


def _partition(x: float, z0: float, z1: float, bottom: float = 0.0, name: str = "wall_partition") -> Part:
    """A 0.1 m thick wall at ``x`` from ``z0`` to ``z1``: the room's episodes must walk round it (habitat's samplers
    keep only starts and goals whose path is at least 1.1 times their distance)."""
    return _box(name, [0.1, ROOM_HEIGHT, abs(z1 - z0)], [x, bottom + ROOM_HEIGHT / 2, (z0 + z1) / 2], base_color=GREY)


def _floor(name: str, hx: float, hz: float, y: float = 0.0, **visual) -> Part:
    return _quad(name, [[-hx, y, hz], [hx, y, hz], [hx, y, -hz], [-hx, y, -hz]], **visual)


def _ceiling(name: str, hx: float, hz: float, y: float) -> Part:
    """A ceiling as scans have it: one surface, facing down into the room."""
    return _quad(name, [[-hx, y, -hz], [hx, y, -hz], [hx, y, hz], [-hx, y, hz]], base_color=GREY)


GREY = (0.7, 0.7, 0.7, 1.0)


def cluttered_parts(subdivide: float | None = None) -> list[Part]:
    """The cluttered room's parts (untextured, one grey material: a CAD room); every part cut into triangles
    of at most ``subdivide`` metres when given."""
    h = CLUTTER_HALF
    parts = [_floor("floor", h, h, base_color=GREY), _ceiling("ceiling", h, h, ROOM_HEIGHT),
             *_walls(h, h, 0.0, ROOM_HEIGHT, "", base_color=GREY), _partition(0.5, h, -0.5)]
    (dx, dy, dz), (sx, sy, sz) = DESK_CENTER, DESK_SIZE
    desk = [_subdivided(_box("desk_top", DESK_SIZE, DESK_CENTER, base_color=GREY), 0.05)]
    for i, (lx, lz) in enumerate(((-1, -1), (-1, 1), (1, -1), (1, 1))):
        desk.append(_box(f"desk_leg_{i}", [0.05, dy, 0.05],
                         [dx + lx * (sx / 2 - 0.05), dy / 2, dz + lz * (sz / 2 - 0.05)], base_color=GREY))
    rng = np.random.default_rng(0)
    for i in range(60):  # papers, books, a keyboard's keys: small, densely meshed things on the desk
        size = rng.uniform(0.04, 0.12, 3)
        centre = [dx + rng.uniform(-0.6, 0.6), dy + sy / 2 + size[1] / 2, dz + rng.uniform(-0.3, 0.3)]
        desk.append(_subdivided(_box(f"clutter_{i}", size, centre, base_color=GREY), 0.03))
    parts += desk
    if subdivide is not None:
        parts = [_subdivided(p, subdivide) for p in parts]
    return parts


def write_cluttered_room(out: Path, subdivide: float | None = None) -> Path:
    """A 5 x 5 m CAD room whose floor is two triangles and whose desk and clutter are thousands (see
    :func:`cluttered_parts`): the floor level must win by area, not by triangle count. A wall at x = 0.5 runs from
    the +z wall to z = -0.5."""
    return write_glb(out / "cluttered_room.glb", cluttered_parts(subdivide))


def write_two_storey_building(out: Path) -> Path:
    """Two 8 x 6 m storeys, not joined by stairs: a ground floor (slab top y = 0) with a table and a wall at z = 0
    from x = -4 to 1, and an upper floor (slab top ``UPPER_FLOOR``, whose underside is the ground floor's ceiling)
    split by a wall at x = 0 from z = -3 to 1; the upper ceiling is one downward surface (no roof to walk on)."""
    (hx, hz), slab, height = BUILDING_HALF, 0.2, UPPER_FLOOR - 0.2
    parts = [_box("ground_slab", [2 * hx, slab, 2 * hz], [0, -slab / 2, 0], base_color=(0.6, 0.5, 0.4, 1)),
             *_walls(hx, hz, 0.0, height, "ground_", base_color=GREY),
             _box("ground_table", [1.2, 0.75, 0.8], [2.0, 0.375, 1.0], base_color=(0.5, 0.3, 0.2, 1)),
             _box("ground_partition", [5.0, height, 0.1], [-1.5, height / 2, 0.0], base_color=GREY),
             _box("upper_slab", [2 * hx, slab, 2 * hz], [0, UPPER_FLOOR - slab / 2, 0], base_color=(0.6, 0.5, 0.4, 1)),
             *_walls(hx, hz, UPPER_FLOOR, height, "upper_", base_color=GREY),
             _box("upper_partition", [0.1, height, 4.0], [0, UPPER_FLOOR + height / 2, -1.0], base_color=GREY),
             _ceiling("upper_ceiling", hx, hz, UPPER_FLOOR + height)]
    return write_glb(out / "two_storey.glb", parts)


def write_pen_room(out: Path) -> Path:
    """A 6 x 6 m room with a 0.9 x 0.9 m pen of knee-high walls round its centre: the navigable point nearest the
    centre is inside the pen, on an island far smaller than habitat's 1.5 m minimum."""
    h, side, t = 3.0, PEN_SIDE, 0.05
    pen = [_box(f"pen_{i}", size, centre, base_color=(0.5, 0.3, 0.2, 1)) for i, (size, centre) in enumerate((
        ([side + t, 1.0, t], [0, 0.5, -side / 2]), ([side + t, 1.0, t], [0, 0.5, side / 2]),
        ([t, 1.0, side], [-side / 2, 0.5, 0]), ([t, 1.0, side], [side / 2, 0.5, 0])))]
    return write_glb(out / "pen_room.glb", [_floor("floor", h, h, base_color=GREY), *_walls(h, h, 0.0, ROOM_HEIGHT, "",
                                                                                             base_color=GREY), *pen])


def _colour_room_parts(floor_texture: np.ndarray, wall_colors, floor_colors, material: bool = True) -> list[Part]:
    h = 2.0
    floor = _floor("floor", h, h, colors=floor_colors, uv=[[0, 0], [1, 0], [1, 1], [0, 1]], texture=floor_texture,
                   material=material)
    # the wall at z = -2 facing +z (into the room), coloured per vertex
    wall = _quad("wall_n", [[-h, 0, -h], [h, 0, -h], [h, ROOM_HEIGHT, -h], [-h, ROOM_HEIGHT, -h]],
                 colors=wall_colors, material=material)
    others = [_box("wall_s", [2 * h, ROOM_HEIGHT, 0.1], [0, ROOM_HEIGHT / 2, h + 0.05], base_color=GREY),
              _box("wall_w", [0.1, ROOM_HEIGHT, 2 * h], [-h - 0.05, ROOM_HEIGHT / 2, 0], base_color=GREY),
              _box("wall_e", [0.1, ROOM_HEIGHT, 2 * h], [h + 0.05, ROOM_HEIGHT / 2, 0], base_color=GREY),
              _partition(1.0, h, -0.5)]
    return [floor, wall, *others]


def _checker(a, b) -> np.ndarray:
    image = np.zeros((8, 8, 3), np.uint8)
    image[:] = a
    image[::2, ::2] = b
    return image


def write_float_colour_room(out: Path) -> Path:
    """A 4 x 4 m room (a wall at x = 1 from the +z wall to z = -0.5) whose floor and front wall carry float RGBA
    ``COLOR_0`` in 0-1 on primitives with a material (as exporters write them): the wall is ``WALL_RGB``; the floor is
    also textured."""
    wall = np.tile(np.array([*np.asarray(WALL_RGB) / 255.0, 1.0], np.float32), (4, 1))
    floor = np.tile(np.array([0.9, 0.8, 0.7, 1.0], np.float32), (4, 1))
    return write_glb(out / "float_colours.glb", _colour_room_parts(_checker((200, 180, 150), (150, 130, 100)),
                                                                    wall, floor))


def write_vec3_colour_room(out: Path) -> Path:
    """The float-colour room's geometry with RGB (VEC3) vertex colours: 8-bit on its textured floor, 16-bit on its
    front wall (``WALL_RGB``)."""
    wall = np.tile((np.asarray(WALL_RGB) * 257).astype(np.uint16), (4, 1))
    floor = np.tile(np.array([230, 200, 180], np.uint8), (4, 1))
    return write_glb(out / "vec3_colours.glb", _colour_room_parts(_checker((200, 180, 150), (150, 130, 100)),
                                                                   wall, floor))


def write_draco_room(out: Path) -> Path:
    """A 4 x 4 m room of boxes with vertex colours (the front wall at z = -2 ``WALL_RGB``), compressed with Draco
    (``KHR_draco_mesh_compression``) by trimesh's exporter; the same room uncompressed beside it as
    ``plain_room.glb``. Needs DracoPy."""
    h, scene = 2.0, trimesh.Scene()
    boxes = {"floor": ([2 * h, 0.02, 2 * h], [0, -0.01, 0], (180, 150, 110)),
             "wall_n": ([2 * h, ROOM_HEIGHT, 0.1], [0, ROOM_HEIGHT / 2, -h - 0.05], WALL_RGB),
             "wall_s": ([2 * h, ROOM_HEIGHT, 0.1], [0, ROOM_HEIGHT / 2, h + 0.05], (120, 130, 170)),
             "wall_w": ([0.1, ROOM_HEIGHT, 2 * h], [-h - 0.05, ROOM_HEIGHT / 2, 0], (160, 120, 130)),
             "wall_e": ([0.1, ROOM_HEIGHT, 2 * h], [h + 0.05, ROOM_HEIGHT / 2, 0], (150, 150, 110))}
    for name, (size, centre, rgb) in boxes.items():
        box = trimesh.creation.box(size).apply_translation(centre)
        box.visual = trimesh.visual.ColorVisuals(box, vertex_colors=np.tile([*rgb, 255], (len(box.vertices), 1)))
        scene.add_geometry(box, node_name=name, geom_name=name)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plain_room.glb").write_bytes(scene.export(file_type="glb"))
    path = out / "draco_room.glb"
    path.write_bytes(scene.export(file_type="glb", extension_draco=True))
    return path


def write_extension_tagged_room(out: Path, extension: str) -> Path:
    """The float-colour room's geometry, uncompressed, declaring ``extension`` used and required: a file a
    reader must refuse by its extension (meshopt, or Draco without a decoder) before touching its data."""
    name = extension.split("_")[1].lower()
    return write_glb(out / f"{name}_tagged.glb", _colour_room_parts(_checker((200, 180, 150), (150, 130, 100)),
                                                                    None, None), extensions=(extension,))


def _hm3d_room_parts() -> list[Part]:
    h = 2.5
    parts = [_floor("floor", h, h, base_color=(0.6, 0.5, 0.4, 1)), _ceiling("ceiling", h, h, ROOM_HEIGHT),
             *_walls(h, h, 0.0, ROOM_HEIGHT, "", base_color=GREY), _partition(0.5, -h, 1.2)]
    for i, (name, _, centre, size) in enumerate(HM3D_OBJECTS):
        parts.append(_box(f"object_{i + 1:04d}_{name.replace(' ', '_')}", size, centre, base_color=(0.3, 0.4, 0.7, 1)))
    return parts


def write_labelled_room(out: Path) -> Path:
    """A 5 x 5 m room (a wall at x = 0.5 from the -z wall to z = 1.2) with the HM3D_OBJECTS as boxes, labelled the
    v4s way (``room.semantic.json``, ids 1.., their v4s categories)."""
    parts = _hm3d_room_parts()
    glb = write_glb(out / "room.glb", parts)
    objects = []
    for i, (_, category, centre, size) in enumerate(HM3D_OBJECTS):
        lo, hi = np.asarray(centre) - np.asarray(size) / 2, np.asarray(centre) + np.asarray(size) / 2
        node = parts[len(parts) - len(HM3D_OBJECTS) + i].name
        objects.append(SceneObject(id=i + 1, category=category, node=node, room=0,
                                   aabb=(tuple(map(float, lo)), tuple(map(float, hi)))))
    SceneMetadata(scene_id="room", objects=objects, floor_height=0.0).save(out / "room.semantic.json")
    return glb


def write_hm3d_exported_room(out: Path) -> Path:
    """The labelled room as HM3D ships a scan: ``room.glb`` + ``room.semantic.glb`` + ``room.semantic.txt`` (written by
    v4s's habitat export from the labelled room), and no ``.semantic.json``."""
    from v4s.envs.sim.habitat import export_habitat_semantics

    labelled = write_labelled_room(out / "labelled")
    export_habitat_semantics(labelled)
    hm3d = out / "hm3d"
    hm3d.mkdir(parents=True, exist_ok=True)
    for name in ("room.glb", "room.semantic.glb", "room.semantic.txt"):
        shutil.copy(labelled.with_name(name), hm3d / name)
    return hm3d / "room.glb"


#: the HM3D v0.2-style room's descriptor colours (sRGB), one per HM3D_OBJECTS entry, then wall and floor
HM3D_COLOURS = (0x9CB1AC, 0x5B8F5E, 0xE0337A, 0x1F77B4, 0x7F7F7F, 0xBCBD22)


def write_hm3d_textured_room(out: Path) -> Path:
    """The room as an HM3D v0.2 scan: ``scan.glb`` (the render mesh), ``scan.semantic.glb`` whose objects are painted
    in a palette texture (one texel per object, HM3D's raw names in ``scan.semantic.txt``, walls and floor labelled
    too), no ``_OBJECT_ID``. Object ids: 1.. in HM3D_OBJECTS order, then 5 (wall), 6 (floor)."""
    out.mkdir(parents=True, exist_ok=True)
    parts = _hm3d_room_parts()
    glb = write_glb(out / "scan.glb", parts)
    palette = np.array([[(c >> 16) & 255, (c >> 8) & 255, c & 255] for c in (*HM3D_COLOURS, 0)], np.uint8)[None]
    names = [name for name, *_ in HM3D_OBJECTS] + ["wall", "floor"]

    def texel_uv(index: int, count: int) -> list[float]:
        return [(index + 0.5) / palette.shape[1], 0.5] * count

    semantic = []
    for part in parts:
        if part.name.startswith("object_"):
            index = int(part.name.split("_")[1]) - 1
        elif part.name == "floor":
            index = 5
        elif "wall" in part.name:
            index = 4
        else:  # the ceiling: unlabelled (black)
            index = 6
        uv = np.asarray(texel_uv(index, len(part.positions)), np.float32).reshape(-1, 2)
        semantic.append(Part(part.name, part.positions, part.faces, uv=uv, texture=palette))
    write_glb(out / "scan.semantic.glb", semantic)
    lines = ["HM3D Semantic Annotations"] + [f'{i + 1},{c:06X},"{name}",0' for i, (c, name) in
                                             enumerate(zip(HM3D_COLOURS, names))]
    (out / "scan.semantic.txt").write_text("\n".join(lines) + "\n")
    return glb

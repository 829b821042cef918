"""A whole house: :func:`generate_house` (layout, furniture, materials, one scene node per part and the
semantic metadata), :func:`export_glb` and :func:`write_house`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from v4s.envs.scenes import furniture, textures
from v4s.envs.scenes.procedural.layout import ROOM_TYPES, HouseLayout, random_layout
from v4s.envs.scenes.procedural.placement import ROOM_PLANS, FurniturePlacer
from v4s.envs.scenes.procedural.structure import doorway_parts, flat_quad, room_trim, room_walls, structure_triangles
from v4s.envs.scenes.semantic import OBJECTNAV_CATEGORIES, Room, SceneMetadata, SceneObject
from v4s.envs.scenes.spec import house_id
from v4s.fileio import write_bytes_atomic

GENERATOR_NAME = "v4s.procedural"
GENERATOR_VERSION = 1

MAX_TRIANGLES = 6000


@dataclass
class GeneratedHouse:
    scene: trimesh.Scene  #: one node per object and per structural part
    metadata: SceneMetadata
    layout: HouseLayout | None = field(default=None, repr=False)  #: the plan (rooms, doors) behind it


def _choose_styles(rng: np.random.Generator, types: list[str]) -> tuple[list[str], list[str]]:
    """A different wall and floor pattern per room (while patterns last), matched to room types."""
    wall_pref = {"bathroom": {"tiles": 6.0, "plaster": 1.5},
                 "kitchen": {"tiles": 4.0, "brick": 2.0, "plaster": 1.5},
                 "living_room": {"brick": 2.0, "panel": 2.0, "trellis": 1.5},
                 "bedroom": {"stripes": 2.0, "dots": 2.0, "trellis": 2.0, "diamond": 1.5},
                 "office": {"panel": 2.0, "plaster": 2.0, "stripes": 1.5},
                 "dining_room": {"diamond": 2.0, "panel": 1.5}}
    floor_pref = {"bathroom": {"tiles": 5.0, "checker": 3.0, "terrazzo": 2.0},
                  "kitchen": {"checker": 4.0, "tiles": 3.0, "terrazzo": 2.0, "stone": 2.0},
                  "living_room": {"planks": 4.0, "parquet": 3.0, "carpet": 1.5},
                  "bedroom": {"carpet": 4.0, "planks": 3.0, "parquet": 1.5},
                  "office": {"planks": 3.0, "carpet": 3.0, "parquet": 2.0},
                  "dining_room": {"parquet": 3.0, "stone": 2.0}}
    order = sorted(range(len(types)), key=lambda i: (types[i] not in ("bathroom", "kitchen"), i))
    walls, floors = [""] * len(types), [""] * len(types)
    for styles, prefs, out in ((textures.WALL_STYLES, wall_pref, walls), (textures.FLOOR_STYLES, floor_pref, floors)):
        left = list(styles)
        for i in order:
            if not left:
                left = list(styles)
            wts = np.array([prefs.get(types[i], {}).get(s, 1.0) for s in left])
            pick = left[int(rng.choice(len(left), p=wts / wts.sum()))]
            out[i] = pick
            left.remove(pick)
    return walls, floors


def _pbr(name: str, image, roughness: float) -> trimesh.visual.material.PBRMaterial:
    return trimesh.visual.material.PBRMaterial(name=name, baseColorTexture=image, metallicFactor=0.0,
                                               roughnessFactor=roughness)


def _mesh(v, n, f, uv, material) -> trimesh.Trimesh:
    return trimesh.Trimesh(vertices=v, faces=f, vertex_normals=n,
                           visual=trimesh.visual.TextureVisuals(uv=uv, material=material), process=False,
                           validate=False)


def _float32_aabb(v: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    v32 = v.astype(np.float32).astype(np.float64)
    lo = np.floor(v32.min(axis=0) * 1e5) / 1e5
    hi = np.ceil(v32.max(axis=0) * 1e5) / 1e5
    return (tuple(float(a) for a in lo), tuple(float(a) for a in hi))  # type: ignore[return-value]


def generate_house(seed: int, scene_id: str | None = None) -> GeneratedHouse:
    """Generate house ``seed`` (deterministic): the scene graph and its semantic metadata."""
    seed = int(seed)
    scene_id = scene_id or house_id(seed)
    rng = np.random.default_rng(seed)
    best = None
    for _attempt in range(8):
        layout = random_layout(rng)
        n = len(layout.rooms_u)
        structure_tris = structure_triangles(layout)
        trim_reserve = n * 150
        budget = MAX_TRIANGLES - structure_tris - trim_reserve
        placer = FurniturePlacer(layout, rng, budget)
        order = sorted(range(n), key=lambda i: (ROOM_TYPES.index(layout.types[i]), i))
        for extras in (False, True):
            for i in order:
                ROOM_PLANS[layout.types[i]](placer, i, rng, extras)
        cats = {p.category for p in placer.placed} & set(OBJECTNAV_CATEGORIES)
        if len(cats) >= 3:
            best = (layout, placer)
            break
        if best is None or len(cats) > len({p.category for p in best[1].placed} & set(OBJECTNAV_CATEGORIES)):
            best = (layout, placer)
    layout, placer = best
    return _assemble(seed, scene_id, layout, placer, rng)


def _assemble(seed: int, scene_id: str, layout: HouseLayout, placer: FurniturePlacer,
              rng: np.random.Generator) -> GeneratedHouse:
    n = len(layout.rooms_u)
    H = layout.ceiling
    ox, oz = layout.offset
    shift = np.array([ox, 0.0, oz])
    # ---- materials
    hues = (rng.uniform() + np.arange(n) / n + rng.uniform(-0.04, 0.04, n)) % 1.0
    hues = hues[rng.permutation(n)]
    floor_hues = (rng.uniform() + np.arange(n) / n + rng.uniform(-0.04, 0.04, n)) % 1.0
    floor_hues = floor_hues[rng.permutation(n)]
    wall_styles, floor_styles = _choose_styles(rng, layout.types)
    wall_tex = [textures.wall_texture(rng, wall_styles[i], float(hues[i])) for i in range(n)]
    floor_tex = [textures.floor_texture(rng, floor_styles[i], float(floor_hues[i])) for i in range(n)]
    ceil_tex = textures.ceiling_texture(rng)
    ceil_mat = _pbr("ceiling", ceil_tex.image, 0.95)
    trim = furniture.c_white(rng) if rng.random() < 0.6 else furniture.c_wood(rng)
    sill = furniture.c_hsv(0.08, rng.uniform(0.0, 0.3), rng.uniform(0.4, 0.8))
    board_h = float(rng.uniform(0.06, 0.12))
    arch_w = float(rng.uniform(0.05, 0.09))

    # ---- palette parts: doors, trims, objects
    door_parts = [doorway_parts(layout, d, trim, sill, arch_w) for d in layout.doors]
    used = placer.tris + structure_triangles(layout)
    trims = []
    for i in range(n):
        left = MAX_TRIANGLES - used - sum(t.num_triangles for t in trims)
        trims.append(room_trim(layout, i, rng, placer.placed, trim, board_h, budget=max(0, left // max(1, n - i))
                               if i < n - 1 else max(0, left)))
    objs = [p for _, p in sorted(enumerate(placer.placed), key=lambda e: (e[1].room, e[0]))]
    obj_arrays = []
    for p in objs:
        R = furniture.yaw_quarter(p.k)
        v = p.fur.vertices @ R.T + np.array([p.pos[0], p.pos[1], p.pos[2]])
        obj_arrays.append((v, p.fur.normals @ R.T, p.fur.faces, p.fur.colors))
    part_arrays = [dp.arrays() for dp in door_parts] + [t.arrays() for t in trims]
    packed = np.concatenate([a[3] for a in obj_arrays + part_arrays])
    _, first = np.unique(packed, return_index=True)
    colors = packed[np.sort(first)]
    palette_img, cell_uv = textures.palette_image(furniture.unpack(colors))
    palette = _pbr("palette", palette_img, 0.8)
    lut_keys = colors
    lut_order = np.argsort(lut_keys)

    def uv_of(c: np.ndarray) -> np.ndarray:
        return cell_uv[lut_order[np.searchsorted(lut_keys[lut_order], c)]]

    scene = trimesh.Scene()

    def add(name: str, mesh: trimesh.Trimesh) -> None:
        scene.add_geometry(mesh, geom_name=name, node_name=name)

    rooms = []
    for i in range(n):
        inner = layout.interior(i)
        fm = flat_quad(inner, 0.0, True, floor_tex[i].tile)
        v, nn, f, uv = fm.arrays()
        add(f"room_{i:02d}_floor", _mesh(v + shift, nn, f, uv, _pbr(f"room_{i:02d}_floor", floor_tex[i].image, 0.75)))
        wm = room_walls(layout, i, wall_tex[i].tile)
        v, nn, f, uv = wm.arrays()
        add(f"room_{i:02d}_walls", _mesh(v + shift, nn, f, uv, _pbr(f"room_{i:02d}_walls", wall_tex[i].image, 0.9)))
        cm = flat_quad(inner, H, False, ceil_tex.tile)
        v, nn, f, uv = cm.arrays()
        add(f"room_{i:02d}_ceiling", _mesh(v + shift, nn, f, uv, ceil_mat))
        tv, tn, tf, tc = trims[i].arrays()
        if len(tf):
            add(f"room_{i:02d}_trim", _mesh(tv + shift, tn, tf, uv_of(tc), palette))
        rooms.append(Room(id=i, type=layout.types[i],
                          aabb=((round(inner.x0 + ox, 6), 0.0, round(inner.z0 + oz, 6)),
                                (round(inner.x1 + ox, 6), round(H, 6), round(inner.z1 + oz, 6)))))
    for d, dp in zip(layout.doors, door_parts):
        v, nn, f, c = dp.arrays()
        add(f"door_{d.id:02d}", _mesh(v + shift, nn, f, uv_of(c), palette))
    objects = []
    for oid, (p, (v, nn, f, c)) in enumerate(zip(objs, obj_arrays), start=1):
        name = f"object_{oid:04d}_{p.category}"
        vw = v + shift
        add(name, _mesh(vw, nn, f, uv_of(c), palette))
        objects.append(SceneObject(id=oid, category=p.category, aabb=_float32_aabb(vw), room=p.room, node=name))
    meta = SceneMetadata(scene_id=scene_id, objects=objects, rooms=rooms, floor_height=0.0,
                         generator={"name": GENERATOR_NAME, "version": GENERATOR_VERSION, "seed": seed})
    return GeneratedHouse(scene=scene, metadata=meta, layout=layout)


def _add_samplers(tree: dict) -> None:
    """Nearest filtering for the palette, trilinear + REPEAT for tiling room textures."""
    tree["samplers"] = [
        {"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497},  # LINEAR, LINEAR_MIPMAP_LINEAR
        {"magFilter": 9728, "minFilter": 9728, "wrapS": 33071, "wrapT": 33071},  # NEAREST, CLAMP_TO_EDGE
    ]
    gltf_textures = tree.get("textures", [])
    for tex in gltf_textures:
        tex["sampler"] = 0
    for mat in tree.get("materials", []):
        if mat.get("name") == "palette":
            idx = mat.get("pbrMetallicRoughness", {}).get("baseColorTexture", {}).get("index")
            if idx is not None:
                gltf_textures[idx]["sampler"] = 1


def export_glb(house: GeneratedHouse) -> bytes:
    """The house scene as GLB bytes (deterministic)."""
    from trimesh.exchange.gltf import export_glb as _export

    return _export(house.scene, include_normals=True, tree_postprocessor=_add_samplers)


def write_house(seed: int, out_dir: str | Path, scene_id: str | None = None) -> tuple[Path, Path]:
    """Writes out_dir/<scene_id>.glb and out_dir/<scene_id>.semantic.json; returns both paths.

    scene_id defaults to ``house_id(seed)``. Each file is written atomically (temp file +
    os.replace), the GLB first, so a reader that sees the json also sees a complete GLB.
    """
    scene_id = scene_id or house_id(int(seed))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    house = generate_house(seed, scene_id)
    glb = out / f"{scene_id}.glb"
    sem = out / f"{scene_id}.semantic.json"
    write_bytes_atomic(glb, export_glb(house))
    write_bytes_atomic(sem, json.dumps(house.metadata.to_json(), indent=1).encode("utf-8"))
    return glb, sem

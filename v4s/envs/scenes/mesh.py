"""Load a GLB scene into flat arrays that a renderer and a navigation grid can use.

Supported: glTF 2.0 binary files (``.glb``) with triangle meshes, node transforms,
PNG/JPEG base-colour textures (``baseColorTexture``), base-colour factors and vertex
colours (``COLOR_0``: RGB or RGBA, float, 8- or 16-bit); in the frame and scale the SceneSpec
gives (glTF's y up, or a stage config's ``up`` / ``front`` / ``scale``). Draco-compressed meshes (``KHR_draco_mesh_compression``) are decoded when
DracoPy is installed (``pip install 'v4s[draco]'``). Semantics come from ``spec.semantic``
(v4s's ``.semantic.json``) or, without one, from HM3D's ``<stem>.semantic.glb`` +
``<stem>.semantic.txt`` beside the GLB (:mod:`v4s.envs.scenes.hm3d`). Not supported:
meshopt compression (``EXT_meshopt_compression``: an error says how to decompress the file);
Basis Universal / KTX2 textures (``KHR_texture_basisu``, habitat's ``*.basis.glb``) — such
textures are skipped with a warning and the base colour is used; export the scene with PNG
or JPEG textures instead. Skinning, morph targets, lines and points are ignored.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from v4s.envs.scenes import hm3d
from v4s.envs.scenes.semantic import SceneMetadata, SemanticFileError, load_semantic
from v4s.envs.scenes.spec import SceneSpec

log = logging.getLogger(__name__)

#: how far (metres) a semantic AABB may differ from its node's geometry bounds
AABB_TOLERANCE = 0.01

#: the glTF extensions that compress geometry
DRACO_EXTENSION = "KHR_draco_mesh_compression"
MESHOPT_EXTENSIONS = ("EXT_meshopt_compression", "KHR_meshopt_compression")
_UNSIGNED_SHORT = 5123  # glTF componentType


class SceneFileError(ValueError):
    """A scene file that cannot be read or does not match its metadata."""


@dataclass
class SemanticMesh:
    """The semantic sensor's own mesh, for scenes that ship one (HM3D's ``<stem>.semantic.glb``):
    ``positions`` (V, 3) float32 world metres (y up), ``faces`` (F, 3) uint32, ``object_ids`` (V,) int32
    (0: background; a triangle shows its last vertex's id)."""

    positions: np.ndarray
    faces: np.ndarray
    object_ids: np.ndarray


@dataclass
class SceneMesh:
    """A whole scene as one indexed triangle soup in world coordinates (y up, metres).

    Per-vertex arrays have V rows: ``positions`` (V, 3) float32, ``uvs`` (V, 2) float32
    (glTF convention: v grows downwards in the image), ``colors`` (V, 4) uint8 (base-colour
    factor times vertex colour), ``texture_index`` (V,) int32 (-1: untextured),
    ``object_ids`` (V,) int32 (0: background), ``flat_color`` (V,) bool (the colour is the
    material's base colour alone: no texture, no vertex colour). ``faces`` (F, 3) uint32, wound
    counter-clockwise seen from the front. ``textures`` holds (h, w, 4) uint8 RGBA images, top
    row first. ``semantic_mesh``, when set, is what the semantic sensor sees instead of
    ``object_ids``.
    """

    scene_id: str
    positions: np.ndarray
    uvs: np.ndarray
    colors: np.ndarray
    texture_index: np.ndarray
    object_ids: np.ndarray
    faces: np.ndarray
    flat_color: np.ndarray
    textures: list[np.ndarray] = field(default_factory=list)
    metadata: SceneMetadata | None = None
    semantic_mesh: SemanticMesh | None = None

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) min and max corner, metres."""
        return np.stack([self.positions.min(axis=0), self.positions.max(axis=0)])

    @property
    def num_triangles(self) -> int:
        return len(self.faces)


def _glb_json(path: Path) -> dict:
    """The JSON chunk of a GLB, or raise SceneFileError naming the file."""
    with path.open("rb") as f:
        header = f.read(20)
        if len(header) < 20:
            raise SceneFileError(f"{path}: not a GLB file (too short)")
        magic, version, _length, chunk_len, chunk_type = struct.unpack("<4sIIII", header)
        if magic != b"glTF":
            raise SceneFileError(f"{path}: not a GLB file (bad magic {magic!r})")
        if version != 2:
            raise SceneFileError(f"{path}: glTF version {version} is not supported (only 2)")
        if chunk_type != 0x4E4F534A:
            raise SceneFileError(f"{path}: first GLB chunk is not JSON")
        try:
            return json.loads(f.read(chunk_len))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SceneFileError(f"{path}: corrupt GLB JSON chunk ({e})") from None


def _check_compression(gltf: dict, path: Path) -> None:
    """Raise SceneFileError naming the extension and the fix for compressed geometry v4s cannot read."""
    extensions = set(gltf.get("extensionsUsed", [])) | set(gltf.get("extensionsRequired", []))
    if DRACO_EXTENSION in extensions and (missing := _draco_decoder_missing()):
        raise SceneFileError(f"{path}: its meshes are compressed with {DRACO_EXTENSION} (Draco), and {missing}; "
                             "install the decoder with: pip install 'v4s[draco]' (DracoPy and a trimesh that uses it)")
    for name in MESHOPT_EXTENSIONS:
        if name in extensions:
            raise SceneFileError(
                f"{path}: its buffers are compressed with {name} (meshopt), which v4s cannot decode; decompress "
                f"the file first, e.g. with glTF-Transform (gltf-transform copy {path.name} plain.glb) or "
                f"meshoptimizer's gltfpack 0.21 or newer (gltfpack -i {path.name} -o plain.glb -noq), and load "
                "the decompressed file")


def _draco_decoder_missing() -> str | None:
    """Why trimesh cannot decode Draco here, or None when it can (its glTF loader decodes with DracoPy;
    trimesh 5.2 does)."""
    if importlib.util.find_spec("DracoPy") is None:
        return "DracoPy is not installed"
    try:
        from trimesh.exchange.gltf.extensions import unregistered
    except ImportError:  # a trimesh older than its glTF extension handlers
        unregistered = None
    if unregistered is None or unregistered([DRACO_EXTENSION], "primitive_preprocess"):
        return f"trimesh {trimesh.__version__} has no Draco decoder"
    return None


def _check_colors(gltf: dict, path: Path) -> None:
    """trimesh turns the 16-bit COLOR_0 of a primitive without material into wrong bytes: refuse it."""
    accessors = gltf.get("accessors", [])
    for i, mesh in enumerate(gltf.get("meshes", [])):
        for j, primitive in enumerate(mesh.get("primitives", [])):
            color = primitive.get("attributes", {}).get("COLOR_0")
            if ("material" not in primitive and isinstance(color, int) and color < len(accessors)
                    and accessors[color].get("componentType") == _UNSIGNED_SHORT):
                raise SceneFileError(f"{path}: meshes[{i}].primitives[{j}]: 16-bit COLOR_0 on a primitive without "
                                     "a material cannot be read; store the vertex colours as float or 8-bit, or "
                                     "give the primitive a material")


def _rgba8(colors: np.ndarray, path: Path) -> np.ndarray:
    """Vertex colours (V, 3|4) as glTF stores them (float 0-1, 8- or 16-bit normalised) -> (V, 4) uint8."""
    colors = np.asarray(colors)
    if colors.ndim != 2 or colors.shape[1] not in (3, 4):
        raise SceneFileError(f"{path}: COLOR_0 must hold RGB or RGBA per vertex, got shape {colors.shape}")
    if colors.dtype.kind == "f":
        colors = np.round(np.clip(np.nan_to_num(colors), 0.0, 1.0) * 255.0)
    elif colors.dtype == np.uint16:
        colors = np.round(colors / 257.0)
    if colors.shape[1] == 3:
        colors = np.concatenate([colors, np.full((len(colors), 1), 255)], axis=1)
    return colors.astype(np.uint8)


def _visual_arrays(mesh: trimesh.Trimesh, path: Path) -> tuple[np.ndarray | None, np.ndarray, Image.Image | None, bool]:
    """(uv or None, per-vertex RGBA colour, texture image or None, whether the colour is the material's
    base colour alone) of one mesh."""
    n = len(mesh.vertices)
    visual = mesh.visual
    color = np.full((n, 4), 255, dtype=np.uint8)
    if isinstance(visual, trimesh.visual.TextureVisuals):
        material = visual.material
        image, factor = _texture_of(material), None
        if isinstance(material, trimesh.visual.material.PBRMaterial):
            factor = material.baseColorFactor
        elif isinstance(material, trimesh.visual.material.SimpleMaterial):
            factor = material.diffuse
        if factor is not None:
            color[:] = np.asarray(factor, dtype=np.uint8)[:4]
        vertex_colors = getattr(visual, "vertex_attributes", {}).get("color")
        has_vertex_colors = vertex_colors is not None and len(vertex_colors) == n
        if has_vertex_colors:
            color = (color.astype(np.uint16) * _rgba8(vertex_colors, path) // 255).astype(np.uint8)
        uv = visual.uv
        if image is None or uv is None or len(uv) != n:
            return None, color, None, not has_vertex_colors
        uv = np.asarray(uv, dtype=np.float32).copy()
        uv[:, 1] = 1.0 - uv[:, 1]  # trimesh flips glTF's v on load; flip it back
        return uv, color, image, False
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.defined:
        # COLOR_0 of a primitive without material: trimesh has made RGBA bytes of it (see _check_colors)
        return None, np.asarray(visual.vertex_colors, dtype=np.uint8)[:, :4], None, False
    return None, color, None, True


def _world_meshes(scene: trimesh.Scene, world: np.ndarray):
    """(node name, mesh, world vertices (V, 3) float64, faces (F, 3) int64) of every triangle mesh of ``scene``,
    after the transform ``world``. A mirroring transform reverses winding (glTF's rule), so the faces are
    flipped back to counter-clockwise."""
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        mesh = scene.geometry[geom_name]
        if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
            continue
        matrix = world @ transform
        faces = np.asarray(mesh.faces, dtype=np.int64)
        if np.linalg.det(matrix[:3, :3]) < 0:
            faces = faces[:, ::-1]
        yield node, mesh, trimesh.transform_points(np.asarray(mesh.vertices, dtype=np.float64), matrix), faces


def _load_glb(path: Path) -> trimesh.Scene:
    """The GLB at ``path`` as a trimesh scene, after checking what v4s cannot read in it."""
    gltf = _glb_json(path)
    _check_compression(gltf, path)
    _check_colors(gltf, path)
    if "KHR_texture_basisu" in gltf.get("extensionsUsed", []) or any(
            img.get("mimeType") == "image/ktx2" for img in gltf.get("images", [])):
        log.warning("%s uses Basis/KTX2 textures, which v4s cannot decode; rendering base colours instead. "
                    "Export the scene with PNG or JPEG textures to see them.", path)
    try:
        return trimesh.load(str(path), force="scene", process=False)
    except Exception as e:  # trimesh raises many types for corrupt files
        raise SceneFileError(f"{path}: cannot read GLB ({type(e).__name__}: {e})") from None


def load_scene_mesh(spec: SceneSpec) -> SceneMesh:
    """Read ``spec.glb`` (and ``spec.semantic``, or HM3D semantics beside the GLB, if any) into a SceneMesh.

    Raises FileNotFoundError or SceneFileError / SemanticFileError naming the file and,
    for metadata mismatches, the field.
    """
    path = Path(spec.glb)
    if not path.is_file():
        raise FileNotFoundError(f"scene GLB not found: {path}")
    scene = _load_glb(path)
    metadata = load_semantic(spec.semantic) if spec.semantic is not None else None

    node_ids: dict[str, int] = {}
    if metadata is not None:
        node_ids = {o.node: o.id for o in metadata.objects}

    world = spec.world_transform
    positions, uvs, colors, tex_index, obj_ids, faces, flat = [], [], [], [], [], [], []
    textures: list[np.ndarray] = []
    texture_slots: dict[int, int] = {}
    node_bounds: dict[str, np.ndarray] = {}
    offset = 0
    for node, mesh, vertices, mesh_faces in _world_meshes(scene, world):
        uv, color, image, flat_color = _visual_arrays(mesh, path)
        n = len(vertices)
        if image is not None:
            slot = texture_slots.setdefault(id(image), len(textures))
            if slot == len(textures):  # meshes sharing a material share its image
                textures.append(np.asarray(image.convert("RGBA"), dtype=np.uint8))
            tex_index.append(np.full(n, slot, dtype=np.int32))
            uvs.append(uv)
        else:
            tex_index.append(np.full(n, -1, dtype=np.int32))
            uvs.append(np.zeros((n, 2), dtype=np.float32))
        positions.append(vertices.astype(np.float32))
        colors.append(color)
        flat.append(np.full(n, flat_color))
        obj_ids.append(np.full(n, node_ids.get(node, 0), dtype=np.int32))
        faces.append(mesh_faces + offset)
        offset += n
        if node in node_ids:
            b = np.stack([vertices.min(axis=0), vertices.max(axis=0)])
            node_bounds[node] = b if node not in node_bounds else np.stack(
                [np.minimum(node_bounds[node][0], b[0]), np.maximum(node_bounds[node][1], b[1])])
    if not positions:
        raise SceneFileError(f"{path}: the GLB holds no triangle meshes")
    semantic_mesh = None
    if metadata is not None:
        _check_metadata(metadata, node_bounds, path, Path(spec.semantic))
    elif (pair := hm3d.semantic_files(path)) is not None:
        metadata, semantic_mesh = load_hm3d_semantics(*pair, scene_id=spec.scene_id, world=world)
    return SceneMesh(
        scene_id=spec.scene_id,
        positions=np.concatenate(positions),
        uvs=np.concatenate(uvs),
        colors=np.concatenate(colors),
        texture_index=np.concatenate(tex_index),
        object_ids=np.concatenate(obj_ids),
        faces=np.concatenate(faces).astype(np.uint32),
        flat_color=np.concatenate(flat),
        textures=textures,
        metadata=metadata,
        semantic_mesh=semantic_mesh,
    )


def load_collision_mesh(spec: SceneSpec) -> tuple[np.ndarray, np.ndarray]:
    """World-frame vertices (V, 3) float32 and faces (F, 3) uint32 of ``spec.collision`` (habitat's
    ``collision_asset``), in the frame and scale of ``spec``."""
    path = Path(spec.collision)  # type: ignore[arg-type]
    parts = [(vertices, faces) for _, _, vertices, faces in _world_meshes(_load_glb(path), spec.world_transform)]
    if not parts:
        raise SceneFileError(f"{path}: the collision GLB holds no triangle meshes")
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    return (np.concatenate([v for v, _ in parts]).astype(np.float32),
            np.concatenate([f + o for (_, f), o in zip(parts, offsets)]).astype(np.uint32))


def load_hm3d_semantics(semantic_glb: Path, descriptor: Path, scene_id: str, world: np.ndarray,
                        category_table: dict[str, str] | None = None) -> tuple[SceneMetadata, SemanticMesh]:
    """HM3D's semantic mesh and descriptor as the scene's objects and the semantic sensor's mesh.

    The semantic GLB is read in the frame of the render GLB (``world`` (4, 4): asset -> world, the
    spec's ``world_transform``), as HM3D ships it. Object ids come from a ``_OBJECT_ID`` vertex
    attribute, else from each triangle's texel colour, else from vertex colours, matched against the
    descriptor. Categories are mapped by ``category_table`` (default:
    :func:`v4s.envs.scenes.hm3d.category_table`)."""
    entries = hm3d.read_descriptor(descriptor)
    table = hm3d.category_table() if category_table is None else category_table
    positions, faces, ids = [], [], []
    offset = 0
    for _, mesh, vertices, mesh_faces in _world_meshes(_load_glb(semantic_glb), world):
        vertex_ids = _hm3d_vertex_ids(mesh, entries, semantic_glb)
        if vertex_ids is None:  # ids per triangle, from its texel: one vertex triple per triangle
            texel_ids = _hm3d_texel_ids(mesh, mesh_faces, entries)
            vertices, mesh_faces = vertices[mesh_faces].reshape(-1, 3), np.arange(3 * len(mesh_faces)).reshape(-1, 3)
            vertex_ids = np.repeat(texel_ids, 3)
        positions.append(vertices.astype(np.float32))
        faces.append(mesh_faces + offset)
        ids.append(vertex_ids)
        offset += len(vertices)
    if not positions:
        raise SceneFileError(f"{semantic_glb}: the semantic GLB holds no triangle meshes")
    semantic = SemanticMesh(positions=np.concatenate(positions), faces=np.concatenate(faces).astype(np.uint32),
                            object_ids=np.concatenate(ids).astype(np.int32))
    semantic.object_ids[~np.isin(semantic.object_ids, list(entries))] = 0  # ids the descriptor does not name
    if not semantic.object_ids.any():
        raise SemanticFileError(f"{semantic_glb}: no triangle carries a colour or id of an object in {descriptor}")
    objects = hm3d.scene_objects(semantic.positions, semantic.faces, semantic.object_ids, entries, table)
    return SceneMetadata(scene_id=scene_id, objects=objects), semantic


def _hm3d_vertex_ids(mesh: trimesh.Trimesh, entries: dict, path: Path) -> np.ndarray | None:
    """Per-vertex object ids (V,) from ``_OBJECT_ID`` or vertex colours (0 without either); None for a
    textured mesh, whose ids come from its texels."""
    object_ids = mesh.vertex_attributes.get("_OBJECT_ID")
    if object_ids is not None:
        return np.asarray(object_ids).reshape(-1).astype(np.int32)
    visual, colours = mesh.visual, None
    if isinstance(visual, trimesh.visual.TextureVisuals):
        if visual.uv is not None and _texture_of(visual.material) is not None:
            return None
        raw = visual.vertex_attributes.get("color")
        if raw is not None and len(raw) == len(mesh.vertices):
            colours = _rgba8(raw, path)
    elif isinstance(visual, trimesh.visual.ColorVisuals) and visual.defined:
        colours = np.asarray(visual.vertex_colors)
    if colours is None:
        return np.zeros(len(mesh.vertices), dtype=np.int32)
    return hm3d.ids_of_colours(colours[:, :3], entries, linear=True)


def _texture_of(material: object) -> Image.Image | None:
    if isinstance(material, trimesh.visual.material.PBRMaterial):
        return material.baseColorTexture
    if isinstance(material, trimesh.visual.material.SimpleMaterial):
        return material.image
    return None


def _hm3d_texel_ids(mesh: trimesh.Trimesh, faces: np.ndarray, entries: dict) -> np.ndarray:
    """Per-triangle object ids (F,) from the base-colour texel under each triangle's centre (nearest texel)."""
    texels = np.asarray(_texture_of(mesh.visual.material).convert("RGB"))  # type: ignore[union-attr]
    h, w = texels.shape[:2]
    uv = np.asarray(mesh.visual.uv, dtype=np.float64)[faces].mean(axis=1)  # trimesh's uv: v grows upwards
    col = np.floor(uv[:, 0] * w).astype(np.int64) % w
    row = np.floor((1.0 - uv[:, 1]) * h).astype(np.int64) % h
    return hm3d.ids_of_colours(texels[row, col], entries, linear=False)


def _check_metadata(metadata: SceneMetadata, node_bounds: dict[str, np.ndarray], glb: Path, semantic: Path) -> None:
    """Every labelled object must name a GLB node whose geometry spans its AABB."""
    for i, obj in enumerate(metadata.objects):
        where = f"{semantic}: objects[{i}] (id {obj.id}, {obj.category})"
        if obj.node not in node_bounds:
            raise SemanticFileError(f"{where}.node: node {obj.node!r} is not a mesh node of {glb}")
        actual = node_bounds[obj.node]
        error = float(np.abs(actual - np.asarray(obj.aabb)).max())
        if error > AABB_TOLERANCE:
            raise SemanticFileError(
                f"{where}.aabb: {obj.aabb} does not match node {obj.node!r} of {glb}, whose bounds are "
                f"{actual.round(4).tolist()} (off by {error:.3f} m)")

"""Load a GLB scene into flat arrays that a renderer and a navigation grid can use.

Supported: glTF 2.0 binary files (``.glb``) with triangle meshes, node transforms,
PNG/JPEG base-colour textures (``baseColorTexture``), base-colour factors and vertex
colours (``COLOR_0``); y-up as glTF says, or z-up scans via ``up_axis="z"``. Not
supported: Basis Universal / KTX2 textures (``KHR_texture_basisu``, habitat's
``*.basis.glb``) — such textures are skipped with a warning and the base colour is
used; export the scene with PNG or JPEG textures instead. Skinning, morph targets,
lines and points are ignored.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from v4s.envs.scenes.semantic import SceneMetadata, SemanticFileError, load_semantic
from v4s.envs.scenes.spec import SceneSpec

log = logging.getLogger(__name__)

#: how far (metres) a semantic AABB may differ from its node's geometry bounds
AABB_TOLERANCE = 0.01

#: z-up (x, y, z) -> y-up (x, z, -y)
_Z_UP_TO_Y_UP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


class SceneFileError(ValueError):
    """A scene file that cannot be read or does not match its metadata."""


@dataclass
class SceneMesh:
    """A whole scene as one indexed triangle soup in world coordinates (y up, metres).

    Per-vertex arrays have V rows: ``positions`` (V, 3) float32, ``uvs`` (V, 2) float32
    (glTF convention: v grows downwards in the image), ``colors`` (V, 4) uint8 (base-colour
    factor times vertex colour), ``texture_index`` (V,) int32 (-1: untextured),
    ``object_ids`` (V,) int32 (0: background). ``faces`` (F, 3) uint32. ``textures`` holds
    (h, w, 4) uint8 RGBA images, top row first.
    """

    scene_id: str
    positions: np.ndarray
    uvs: np.ndarray
    colors: np.ndarray
    texture_index: np.ndarray
    object_ids: np.ndarray
    faces: np.ndarray
    textures: list[np.ndarray] = field(default_factory=list)
    metadata: SceneMetadata | None = None

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


def _visual_arrays(mesh: trimesh.Trimesh) -> tuple[np.ndarray | None, np.ndarray, Image.Image | None]:
    """(uv or None, per-vertex RGBA colour, texture image or None) of one mesh."""
    n = len(mesh.vertices)
    visual = mesh.visual
    color = np.full((n, 4), 255, dtype=np.uint8)
    if isinstance(visual, trimesh.visual.TextureVisuals):
        material = visual.material
        image, factor = None, None
        if isinstance(material, trimesh.visual.material.PBRMaterial):
            image, factor = material.baseColorTexture, material.baseColorFactor
        elif isinstance(material, trimesh.visual.material.SimpleMaterial):
            image, factor = material.image, material.diffuse
        if factor is not None:
            color[:] = np.asarray(factor, dtype=np.uint8)[:4]
        vertex_colors = getattr(visual, "vertex_attributes", {}).get("color")
        if vertex_colors is not None and len(vertex_colors) == n:
            color = (color.astype(np.uint16) * np.asarray(vertex_colors)[:, :4].astype(np.uint16) // 255).astype(np.uint8)
        uv = visual.uv
        if image is None or uv is None or len(uv) != n:
            return None, color, None
        uv = np.asarray(uv, dtype=np.float32).copy()
        uv[:, 1] = 1.0 - uv[:, 1]  # trimesh flips glTF's v on load; flip it back
        return uv, color, image
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.defined:
        return None, np.asarray(visual.vertex_colors, dtype=np.uint8)[:, :4], None
    return None, color, None


def load_scene_mesh(spec: SceneSpec) -> SceneMesh:
    """Read ``spec.glb`` (and ``spec.semantic`` if any) into a SceneMesh.

    Raises FileNotFoundError or SceneFileError / SemanticFileError naming the file and,
    for metadata mismatches, the field.
    """
    path = Path(spec.glb)
    if not path.is_file():
        raise FileNotFoundError(f"scene GLB not found: {path}")
    if spec.up_axis not in ("y", "z"):
        raise SceneFileError(f"up_axis must be 'y' or 'z', got {spec.up_axis!r} (scene {path})")
    gltf = _glb_json(path)
    if "KHR_texture_basisu" in gltf.get("extensionsUsed", []) or any(
            img.get("mimeType") == "image/ktx2" for img in gltf.get("images", [])):
        log.warning("%s uses Basis/KTX2 textures, which v4s cannot decode; rendering base colours instead. "
                    "Export the scene with PNG or JPEG textures to see them.", path)
    try:
        scene = trimesh.load(str(path), force="scene", process=False)
    except Exception as e:  # trimesh raises many types for corrupt files
        raise SceneFileError(f"{path}: cannot read GLB ({type(e).__name__}: {e})") from None
    metadata = load_semantic(spec.semantic) if spec.semantic is not None else None

    node_ids: dict[str, int] = {}
    if metadata is not None:
        node_ids = {o.node: o.id for o in metadata.objects}

    world = _Z_UP_TO_Y_UP if spec.up_axis == "z" else np.eye(4)
    positions, uvs, colors, tex_index, obj_ids, faces = [], [], [], [], [], []
    textures: list[np.ndarray] = []
    texture_slots: dict[int, int] = {}
    node_bounds: dict[str, np.ndarray] = {}
    offset = 0
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        mesh = scene.geometry[geom_name]
        if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
            continue
        vertices = trimesh.transform_points(np.asarray(mesh.vertices, dtype=np.float64), world @ transform)
        uv, color, image = _visual_arrays(mesh)
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
        obj_ids.append(np.full(n, node_ids.get(node, 0), dtype=np.int32))
        faces.append(np.asarray(mesh.faces, dtype=np.int64) + offset)
        offset += n
        if node in node_ids:
            b = np.stack([vertices.min(axis=0), vertices.max(axis=0)])
            node_bounds[node] = b if node not in node_bounds else np.stack(
                [np.minimum(node_bounds[node][0], b[0]), np.maximum(node_bounds[node][1], b[1])])
    if not positions:
        raise SceneFileError(f"{path}: the GLB holds no triangle meshes")
    if metadata is not None:
        _check_metadata(metadata, node_bounds, path, Path(spec.semantic))
    return SceneMesh(
        scene_id=spec.scene_id,
        positions=np.concatenate(positions),
        uvs=np.concatenate(uvs),
        colors=np.concatenate(colors),
        texture_index=np.concatenate(tex_index),
        object_ids=np.concatenate(obj_ids),
        faces=np.concatenate(faces).astype(np.uint32),
        textures=textures,
        metadata=metadata,
    )


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

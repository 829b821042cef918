"""The files habitat-sim loads for a v4s scene: stage configs and HM3D-style semantics.

``write_stage_config`` writes ``<stem>.v4s.stage_config.json`` for a scene without v4s semantics;
``export_habitat_semantics`` writes ``<stem>.semantic.glb`` (vertex ids and colours),
``<stem>.semantic.txt`` (the HM3D descriptor) and ``<stem>.semantic.stage_config.json``.
Nothing here imports habitat-sim. Why this format, from habitat-sim's source: docs/habitat.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from v4s.envs.scenes.hm3d import HM3D_SSD_HEADER
from v4s.envs.scenes.semantic import SceneObject, load_semantic
from v4s.envs.scenes.spec import SceneSpec, cache_dir, glb_stem, resolve_scene
from v4s.fileio import write_bytes_atomic

#: bump when the files written by export_habitat_semantics / write_stage_config change
EXPORT_VERSION = 2

#: first line of an HM3D semantic scene descriptor (SemanticScene::loadSemanticSceneDescriptor)

#: habitat-sim keeps per-vertex semantic ids in 16 bits (GenericSemanticMeshData.cpp)
MAX_SEMANTIC_ID = 65535

_COLOR_MULTIPLIER = 0x9E3779  # odd, so id -> id * m mod 2**24 is a bijection

#: habitat's world frame, (up, front): y up, looking down -z. The semantic mesh is written in it.
_WORLD_FRAME = ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0])

# glTF constants
_FLOAT, _USHORT, _UINT = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_GLB_JSON, _GLB_BIN = 0x4E4F534A, 0x004E4942

# ====================================================================== semantic colours


def semantic_color(object_id: int) -> int:
    """The 24-bit sRGB colour (0xRRGGBB) that stands for ``object_id`` in the semantic mesh; 0 -> black."""
    if not 0 <= int(object_id) <= MAX_SEMANTIC_ID:
        raise ValueError(f"semantic id {object_id} is outside habitat-sim's 16-bit range [0, {MAX_SEMANTIC_ID}]")
    return (int(object_id) * _COLOR_MULTIPLIER) & 0xFFFFFF


def _srgb8_to_linear(rgb8: np.ndarray) -> np.ndarray:
    """sRGB bytes (..., 3) -> linear floats (..., 3) float32: the exact inverse of Magnum's toSrgb."""
    s = np.asarray(rgb8, dtype=np.float64) / 255.0
    lin = np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """What habitat-sim makes of float glTF vertex colours: Magnum's ``Color3::toSrgb<UnsignedByte>()``.

    ``toSrgb`` is ``x <= 0.0031308 ? 12.92 x : 1.055 x^(1/2.4) - 0.055`` in float32, then
    ``Math::pack`` rounds ``x * 255`` to the nearest byte.
    """
    x = np.asarray(linear, dtype=np.float32)
    s = np.where(x <= np.float32(0.0031308), np.float32(12.92) * x,
                 np.float32(1.055) * np.power(x, np.float32(1.0 / 2.4)) - np.float32(0.055)).astype(np.float32)
    return np.round(np.clip(s, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)


def _color_bytes(colors: np.ndarray) -> np.ndarray:
    c = np.asarray(colors, dtype=np.int64)
    return np.stack([(c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF], axis=-1).astype(np.uint8)


# ====================================================================== file writers


def _ssd_text(field: str) -> str:
    # buildHM3DHouse splits a line on '"' (and older versions on ','): keep both out of names
    return " ".join(str(field).replace('"', "'").replace(",", " ").split()) or "unknown"


def hm3d_descriptor(objects: Iterable[SceneObject]) -> str:
    """The text of an HM3D semantic scene descriptor (``*.semantic.txt``) for ``objects``.

    One line per object: ``<id>,<RRGGBB>,"<category>",<room>``. Id 0 is left out: habitat-sim
    adds it itself as ``Unknown`` with colour 000000 (HM3DSemanticScene.cpp).
    """
    lines = [HM3D_SSD_HEADER]
    for obj in sorted(objects, key=lambda o: o.id):
        if obj.id <= 0:
            raise ValueError(f"object {obj.category!r} has id {obj.id}; semantic ids start at 1 (0 is background)")
        lines.append(f'{obj.id},{semantic_color(obj.id):06X},"{_ssd_text(obj.category)}",{int(obj.room)}')
    return "\n".join(lines) + "\n"


def write_semantic_glb(path: Path, positions: np.ndarray, faces: np.ndarray, object_ids: np.ndarray) -> None:
    """A one-node, one-primitive GLB: POSITION, COLOR_0 (float RGB of each vertex's id colour),
    ``_OBJECT_ID`` (UNSIGNED_SHORT, 4-byte stride) and UNSIGNED_INT triangle indices."""
    positions = np.ascontiguousarray(positions, dtype=np.float32).reshape(-1, 3)
    faces = np.ascontiguousarray(faces, dtype=np.uint32).reshape(-1, 3)
    ids = np.asarray(object_ids, dtype=np.int64).reshape(-1)
    if len(ids) != len(positions):
        raise ValueError(f"{len(ids)} object ids for {len(positions)} vertices")
    if len(positions) == 0 or len(faces) == 0:
        raise ValueError("the semantic mesh has no triangles")
    if ids.min() < 0 or ids.max() > MAX_SEMANTIC_ID:
        raise ValueError(f"semantic ids must be in [0, {MAX_SEMANTIC_ID}] (habitat-sim keeps 16 bits), "
                         f"got [{ids.min()}, {ids.max()}]")
    if faces.max() >= len(positions):
        raise ValueError("a face indexes a vertex that does not exist")
    unique, inverse = np.unique(ids, return_inverse=True)
    palette = _srgb8_to_linear(_color_bytes([semantic_color(i) for i in unique]))
    colors = np.ascontiguousarray(palette[inverse.reshape(-1)], dtype=np.float32)
    id_words = ids.astype("<u4")  # low 2 bytes hold the UNSIGNED_SHORT, little-endian
    blobs = [positions.astype("<f4").tobytes(), colors.astype("<f4").tobytes(), id_words.tobytes(),
             faces.astype("<u4").tobytes()]
    views, offset = [], 0
    for i, blob in enumerate(blobs):
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(blob),
                "target": _ELEMENT_ARRAY_BUFFER if i == 3 else _ARRAY_BUFFER}
        if i == 2:
            view["byteStride"] = 4
        views.append(view)
        offset += len(blob)  # every blob is a multiple of 4 bytes, so offsets stay aligned
    n = len(positions)
    gltf = {
        "asset": {"version": "2.0", "generator": f"v4s.envs.sim.habitat.export (v v{EXPORT_VERSION})"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "semantic", "mesh": 0}],
        "meshes": [{"name": "semantic", "primitives": [{
            "attributes": {"POSITION": 0, "COLOR_0": 1, "_OBJECT_ID": 2}, "indices": 3, "mode": 4}]}],
        "accessors": [
            {"bufferView": 0, "componentType": _FLOAT, "count": n, "type": "VEC3",
             "min": positions.min(axis=0).tolist(), "max": positions.max(axis=0).tolist()},
            {"bufferView": 1, "componentType": _FLOAT, "count": n, "type": "VEC3"},
            {"bufferView": 2, "componentType": _USHORT, "count": n, "type": "SCALAR"},
            {"bufferView": 3, "componentType": _UINT, "count": int(faces.size), "type": "SCALAR"},
        ],
        "bufferViews": views,
        "buffers": [{"byteLength": offset}],
    }
    js = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    binary = b"".join(blobs)
    total = 12 + 8 + len(js) + 8 + len(binary)
    write_bytes_atomic(path, b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<II", len(js), _GLB_JSON),
                                  js, struct.pack("<II", len(binary), _GLB_BIN), binary]))


def read_semantic_glb(path: str | Path) -> dict[str, np.ndarray]:
    """Read back a GLB written by :func:`write_semantic_glb`: ``positions`` (V, 3) float32,
    ``colors`` (V, 3) float32 linear, ``object_ids`` (V,) int64, ``faces`` (F, 3) uint32."""
    data = Path(path).read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2 or total != len(data):
        raise ValueError(f"{path}: not a glTF 2 binary file")
    js_len, js_type = struct.unpack_from("<II", data, 12)
    gltf = json.loads(data[20:20 + js_len])
    bin_len, bin_type = struct.unpack_from("<II", data, 20 + js_len)
    if js_type != _GLB_JSON or bin_type != _GLB_BIN:
        raise ValueError(f"{path}: unexpected GLB chunk types")
    binary = data[28 + js_len:28 + js_len + bin_len]
    prim = gltf["meshes"][0]["primitives"][0]

    def accessor(index: int) -> np.ndarray:
        acc = gltf["accessors"][index]
        view = gltf["bufferViews"][acc["bufferView"]]
        dtype = {_FLOAT: "<f4", _USHORT: "<u2", _UINT: "<u4"}[acc["componentType"]]
        width = {"SCALAR": 1, "VEC3": 3}[acc["type"]]
        item = np.dtype(dtype).itemsize * width
        stride = view.get("byteStride", item)
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        raw = np.frombuffer(binary, dtype=np.uint8, count=stride * (acc["count"] - 1) + item, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(acc["count"], item), strides=(stride, 1))
        return np.ascontiguousarray(rows).view(dtype).reshape(acc["count"], width)

    return {"positions": accessor(prim["attributes"]["POSITION"]),
            "colors": accessor(prim["attributes"]["COLOR_0"]),
            "object_ids": accessor(prim["attributes"]["_OBJECT_ID"]).reshape(-1).astype(np.int64),
            "faces": accessor(prim["indices"]).reshape(-1, 3)}


# ====================================================================== stage config / export


@dataclass(frozen=True)
class HabitatSceneFiles:
    """Where the files habitat-sim loads for one scene live."""

    stage_config: Path
    semantic_glb: Path | None = None
    semantic_descriptor: Path | None = None


def _output_dirs(spec: SceneSpec) -> list[Path]:
    """Where a scene's habitat files may live: beside the GLB, then a per-scene cache directory
    (for GLBs in read-only directories)."""
    glb = Path(spec.glb).resolve()
    digest = hashlib.sha1(str(glb).encode()).hexdigest()[:10]
    return [glb.parent, cache_dir() / "habitat" / f"{spec.scene_id}-{digest}"]


def _pick_output_dir(spec: SceneSpec, is_fresh: Any) -> tuple[Path, bool]:
    """(directory, whether its files are already fresh): fresh files win, else the first writable place."""
    dirs = _output_dirs(spec)
    for d in dirs:
        if is_fresh(d):
            return d, True
    if os.access(dirs[0], os.W_OK):
        return dirs[0], False
    dirs[1].mkdir(parents=True, exist_ok=True)
    return dirs[1], False


def _ref(target: Path, config_dir: Path) -> str:
    """How the stage config names ``target``: a bare name when beside it, else an absolute path."""
    target = Path(target).resolve()
    return target.name if target.parent == config_dir.resolve() else str(target)


def _sources(spec: SceneSpec) -> list[Path]:
    """The files a scene's habitat files are derived from (the GLB, its collision mesh, its semantic json)."""
    return [Path(p) for p in (spec.glb, spec.collision, spec.semantic) if p is not None]


def _fresh(outputs: Sequence[Path], sources: Sequence[Path], stage_config: Path, semantic: bool,
           spec: SceneSpec) -> bool:
    """All outputs exist, none is older than a source, and the stage config is this exporter's version (with or
    without semantics, as asked) for the asset frame the scene has now (a user's stage config may have changed
    its up, front or scale since)."""
    if not all(p.is_file() for p in outputs):
        return False
    newest_source = max(p.stat().st_mtime for p in sources)
    if any(p.stat().st_mtime < newest_source for p in outputs):
        return False
    try:
        data = json.loads(stage_config.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    meta = data.get("user_defined", {})
    frame = [data.get(k) for k in ("up", "front", "scale")] == [list(spec.up), list(spec.front), list(spec.scale)]
    return frame and meta.get("v4s_export_version") == EXPORT_VERSION and meta.get("v4s_semantic") == semantic


def _stage_config(spec: SceneSpec, out: Path, semantic_glb: Path | None, ssd: Path | None) -> dict[str, Any]:
    glb = Path(spec.glb)
    config: dict[str, Any] = {
        "render_asset": _ref(glb, out),
        "collision_asset": _ref(Path(spec.collision or glb), out),
        "up": list(spec.up),
        "front": list(spec.front),
        "scale": list(spec.scale),
        "origin": [0.0, 0.0, 0.0],
    }
    if semantic_glb is not None and ssd is not None:
        # the semantic mesh is written in habitat's world frame (y up, metres), whatever the render asset's frame
        config.update({
            "semantic_asset": _ref(semantic_glb, out),
            "semantic_descriptor_filename": _ref(ssd, out),
            "semantic_up": _WORLD_FRAME[0],
            "semantic_front": _WORLD_FRAME[1],
            "has_semantic_textures": False,
        })
    config["user_defined"] = {"v4s_export_version": EXPORT_VERSION, "v4s_scene_id": spec.scene_id,
                              "v4s_semantic": semantic_glb is not None}
    return config


def write_stage_config(spec: SceneSpec | str | os.PathLike[str]) -> Path:
    """Write (when missing or stale) the ``<stem>.v4s.stage_config.json`` of a scene without v4s semantics.

    It names the GLB as render asset, ``spec.collision`` (else the GLB) as collision asset, and the
    asset's frame and scale (``spec.up``, ``spec.front``, ``spec.scale``). Named apart from a user's own
    ``<stem>.stage_config.json``, which :func:`~v4s.envs.scenes.spec.resolve_scene` reads and this never
    overwrites. No ``nav_asset``: the habitat backend builds the navmesh for its own agent. Returns the
    stage config path.
    """
    spec = resolve_scene(spec)
    glb = Path(spec.glb)
    if not glb.is_file():
        raise FileNotFoundError(f"scene GLB not found: {glb}")
    name, sources = f"{glb_stem(spec.glb)}.v4s.stage_config.json", _sources(spec)
    out, fresh = _pick_output_dir(spec, lambda d: _fresh([d / name], sources, d / name, False, spec))
    stage = out / name
    if not fresh:
        write_bytes_atomic(stage, json.dumps(_stage_config(spec, out, None, None), indent=1).encode())
    return stage


def export_habitat_semantics(spec: SceneSpec | str | os.PathLike[str]) -> Path:
    """Write (when missing or stale) what habitat-sim needs to render our semantic ids.

    From ``spec.glb`` (read with trimesh through :func:`v4s.envs.scenes.mesh.load_scene_mesh`,
    the same reader as the embedded backend, so node -> id assignment matches) and
    ``spec.semantic``, writes beside the GLB:

    * ``<stem>.semantic.glb``: the scene's triangles in habitat's world frame, every vertex
      carrying its object's id as ``_OBJECT_ID`` and as a distinct colour (background: 0, black);
    * ``<stem>.semantic.txt``: the HM3D descriptor ``<id>,<RRGGBB>,"<category>",<room>``;
    * ``<stem>.semantic.stage_config.json``: the stage that ties the GLB and these two together
      (named apart from :func:`write_stage_config`'s plain ``<stem>.v4s.stage_config.json``).

    Returns the stage config path (pass it as habitat's ``scene_id``). Raises ValueError for a
    scene without a ``.semantic.json``.
    """
    spec = resolve_scene(spec)
    if spec.semantic is None:
        raise ValueError(f"scene {spec.scene_id!r} has no .semantic.json next to {spec.glb}; "
                         "use write_stage_config() for scenes without v4s semantics")
    glb, semantic = Path(spec.glb), Path(spec.semantic)
    if not glb.is_file():
        raise FileNotFoundError(f"scene GLB not found: {glb}")
    stem, sources = glb_stem(spec.glb), _sources(spec)

    def files_in(d: Path) -> HabitatSceneFiles:
        return HabitatSceneFiles(stage_config=d / f"{stem}.semantic.stage_config.json",
                                 semantic_glb=d / f"{stem}.semantic.glb",
                                 semantic_descriptor=d / f"{stem}.semantic.txt")

    def fresh_in(d: Path) -> bool:
        f = files_in(d)
        return _fresh([f.semantic_glb, f.semantic_descriptor, f.stage_config], sources,  # type: ignore[list-item]
                      f.stage_config, True, spec)

    out, fresh = _pick_output_dir(spec, fresh_in)
    files = files_in(out)
    if fresh:
        return files.stage_config
    from v4s.envs.scenes.mesh import load_scene_mesh  # trimesh; only needed when (re)writing

    mesh = load_scene_mesh(spec)  # validates the json against the GLB, names file and field on error
    metadata = mesh.metadata or load_semantic(semantic)
    too_big = [o.id for o in metadata.objects if o.id > MAX_SEMANTIC_ID]
    if too_big:
        raise ValueError(f"{semantic}: object ids {too_big[:5]} exceed {MAX_SEMANTIC_ID}, the largest semantic id "
                         "habitat-sim can render (16 bits)")
    write_semantic_glb(files.semantic_glb, mesh.positions, mesh.faces, mesh.object_ids)  # type: ignore[arg-type]
    write_bytes_atomic(files.semantic_descriptor, hm3d_descriptor(metadata.objects).encode())  # type: ignore[arg-type]
    # the stage config last: its presence (and version) marks a complete export
    write_bytes_atomic(files.stage_config, json.dumps(
        _stage_config(spec, out, files.semantic_glb, files.semantic_descriptor), indent=1).encode())
    return files.stage_config


__all__ = ["EXPORT_VERSION", "HM3D_SSD_HEADER", "HabitatSceneFiles", "MAX_SEMANTIC_ID", "export_habitat_semantics",
           "hm3d_descriptor", "linear_to_srgb8", "read_semantic_glb", "semantic_color",
           "write_semantic_glb", "write_stage_config"]

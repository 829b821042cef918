"""HabitatSim: the :class:`~v4s.envs.sim.base.Simulator` contract on the real habitat-sim.

habitat-sim is installed with conda only (``conda install -c aihabitat -c conda-forge
habitat-sim withbullet headless``, or ``conda env create -f environment.yml``), so this
module imports ``habitat_sim`` lazily: importing it, and the file-format helpers below,
work without habitat-sim.

How a scene reaches habitat-sim
-------------------------------
Every scene is loaded through a stage config written next to the GLB:
``<stem>.semantic.stage_config.json`` with v4s semantics, ``<stem>.stage_config.json``
without. It uses habitat-sim's documented ``render_asset`` / ``up`` / ``front`` /
``semantic_asset`` / ``semantic_descriptor_filename`` / ``nav_asset`` keys (see
``docs/pages/attributesJSON.rst`` and ``StageAttributesManager::setValsFromJSONDoc``).
The stage config is needed even without semantics: a bare ``.glb`` given as ``scene_id``
is assumed to be a z-up Matterport mesh (``StageAttributesManager::
setDefaultAssetNameBasedAttributes`` sets up=+z, front=+y for ``*.glb``), which would
tip over a y-up glTF house. We pass ``up``/``front`` from ``SceneSpec.up_axis``.

Semantics for v4s houses (scenes with a ``.semantic.json``)
-----------------------------------------------------------
Chosen format: HM3D's *vertex-coloured* semantic mesh plus HM3D semantic scene
descriptor, i.e. ``<stem>.semantic.glb`` + ``<stem>.semantic.txt``, referenced from the
stage config with ``has_semantic_textures: false``. Why, from habitat-sim's source:

* ``ResourceManager::loadSemanticRenderAsset`` sends non-texture semantic assets to
  ``loadRenderAssetSemantic`` -> ``flattenImportedMeshAndBuildSemantic``, which flattens
  every node of the GLB with its transform and keeps Position, Color and ObjectId
  (``src/esp/assets/ResourceManager.cpp``).
* ``GenericSemanticMeshData::buildSemanticMeshData`` (``src/esp/assets/
  GenericSemanticMeshData.cpp``) then gives every vertex its semantic id: from a
  per-vertex ObjectId attribute when the mesh has one, else by looking the vertex colour
  up in the descriptor's colour -> id map. The semantic sensor writes these ids.
* ``SemanticScene::buildHM3DHouse`` (``src/esp/scene/HM3DSemanticScene.cpp``) parses the
  descriptor: a header line ``HM3D Semantic Annotations`` then one
  ``<id>,<RRGGBB>,"<category>",<region>`` line per object; the object's semantic id *is*
  the first column and id 0 is reserved for ``Unknown`` with colour 000000. So our
  object ids survive unchanged, and ``sim.semantic_scene.objects`` carries our
  categories (``category.name()``) and rooms (regions).

We write both id carriers, so the ids are ours whichever path a habitat-sim version takes:

* ``_OBJECT_ID``: Magnum's glTF importers (TinyGltf/Cgltf/GltfImporter) import this
  custom attribute as ``MeshAttribute::ObjectId`` (``objectIdAttribute=_OBJECT_ID`` in
  ``GltfImporter.conf``; scalar UNSIGNED_BYTE/SHORT/INT). We store UNSIGNED_SHORT with a
  4-byte stride (valid glTF: custom attributes may not be UNSIGNED_INT, and vertex
  elements must be 4-byte aligned). habitat-sim stores ids in 16 bits (ESP_CHECK
  ``maxVal <= 65535``), so ids above 65535 are refused.
* ``COLOR_0``: float RGB. ``BaseMesh::convertMeshColors`` reads glTF colours as linear
  floats and converts them with ``toSrgb<UnsignedByte>()`` (round to nearest, Magnum
  ``Math::pack``) before matching the descriptor's hex colours. Storing the exact linear
  value of each sRGB byte makes that round trip exact; 8-bit colours would not be (two
  linear bytes can land on one sRGB byte). Background geometry is black: id 0.

Each object gets a distinct colour ``(id * 0x9E3779) mod 2**24`` (a bijection, so
colours never collide; 0 stays black). Files are written atomically, and rewritten when
missing, older than the GLB / semantic json, or from an older exporter version.

Not chosen: texture-based semantics (``has_semantic_textures``, HM3D v0.2) would mean baking
id textures; a Replica/MP3D-style ``*_semantic.ply`` with ``object_id`` gets a hard-coded
-z-gravity rotation in ``buildSemanticMeshData`` and needs another descriptor format
(``info_semantic.json`` / ``.house``). A glTF keeps the frame explicit (``semantic_up`` /
``semantic_front``) and is read by the same importer as the render asset.

For scenes without a ``.semantic.json`` the objects come from
``sim.semantic_scene.objects`` (``semantic_id``, ``category.name()``, ``aabb.center`` /
``aabb.sizes``), i.e. whatever semantics habitat-sim itself loaded.

Where the generated files cannot be written next to the GLB (a read-only dataset), they
go to ``<cache>/habitat/<scene_id>-<hash>/`` with absolute asset paths.

The agent
---------
Sensors are habitat ``CameraSensorSpec`` s named ``rgb`` / ``depth`` / ``semantic`` at
``[0, sensor_height, 0]``; actions are ``move_forward`` / ``turn_left`` / ``turn_right``
with the config's amounts; physics is off and the navmesh is recomputed with
``NavMeshSettings`` from the config unless the loaded one already matches. Heights follow
habitat's navmesh (recast quantises its heights to ``cell_height``, so it can sit a little
above the floor): ``set_agent_state`` takes y from ``snap_point``, as habitat's own steps do. ``previous_step_collided`` is the
last step's ``obs["collided"]``, as habitat-lab's HabitatSim keeps it (habitat-sim's
Simulator has no such property).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from v4s.envs.scenes.semantic import SceneMetadata, SceneObject, load_semantic
from v4s.envs.scenes.spec import SceneSpec, cache_dir, resolve_scene
from v4s.envs.sim.base import (
    AgentState,
    MultiGoalShortestPath,
    ShortestPath,
    SimConfig,
    check_action,
    not_navigable_error,
    quaternion_to_yaw,
    yaw_to_quaternion,
)
from v4s.fileio import write_bytes_atomic

#: how habitat-sim is installed (it is not on PyPI in a working form)
CONDA_INSTALL = "conda install -c aihabitat -c conda-forge habitat-sim withbullet headless"

#: bump when the files written by export_habitat_semantics / write_stage_config change
EXPORT_VERSION = 1

#: first line of an HM3D semantic scene descriptor (SemanticScene::loadSemanticSceneDescriptor)
HM3D_SSD_HEADER = "HM3D Semantic Annotations"

#: habitat-sim keeps per-vertex semantic ids in 16 bits (GenericSemanticMeshData.cpp)
MAX_SEMANTIC_ID = 65535

_COLOR_MULTIPLIER = 0x9E3779  # odd, so id -> id * m mod 2**24 is a bijection

# asset frames: (up, front) in the asset's own coordinates. Habitat's world is y up, looking down -z.
_FRAMES = {"y": ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]),
           "z": ([0.0, 0.0, 1.0], [0.0, 1.0, 0.0])}  # habitat's frame for z-up (Matterport) meshes

# glTF constants
_FLOAT, _USHORT, _UINT = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_GLB_JSON, _GLB_BIN = 0x4E4F534A, 0x004E4942


def _import_habitat_sim() -> Any:
    try:
        import habitat_sim
    except ImportError as e:
        raise ImportError(
            "the habitat backend needs habitat-sim, which is installed with conda, not pip:\n"
            f"    {CONDA_INSTALL}\n"
            "or create the whole environment from this repository's environment.yml:\n"
            "    conda env create -f environment.yml && conda activate v4s\n"
            f"(import failed: {e}). Without habitat-sim, use the embedded backend (sim.backend=embedded)."
        ) from e
    return habitat_sim


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


def parse_hm3d_descriptor(text: str) -> dict[int, tuple[int, str, int]]:
    """``{id: (0xRRGGBB colour, category, region)}`` of an HM3D descriptor, parsed like buildHM3DHouse."""
    lines = text.splitlines()
    if not lines or HM3D_SSD_HEADER not in lines[0]:
        raise ValueError(f"not an HM3D semantic descriptor: first line is {lines[:1]!r}, expected {HM3D_SSD_HEADER!r}")
    out: dict[int, tuple[int, str, int]] = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        tokens = [t for t in line.split('"') if t]
        head = [t for t in tokens[0].split(",") if t]
        out[int(head[0].strip())] = (int(head[1].strip(), 16), tokens[1], int(tokens[-1].strip(" ,")))
    return out


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
        "asset": {"version": "2.0", "generator": f"v4s.envs.sim.habitat (export v{EXPORT_VERSION})"},
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


def _stem(spec: SceneSpec) -> str:
    name = Path(spec.glb).name
    return name[: -len(".glb")] if name.lower().endswith(".glb") else Path(name).stem


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
    """The files a scene's habitat files are derived from (the GLB, its semantic json and navmesh)."""
    glb = Path(spec.glb)
    out = [glb]
    if spec.semantic is not None:
        out.append(Path(spec.semantic))
    navmesh = glb.with_name(f"{_stem(spec)}.navmesh")
    if navmesh.is_file():
        out.append(navmesh)
    return out


def _fresh(outputs: Sequence[Path], sources: Sequence[Path], stage_config: Path, semantic: bool) -> bool:
    """All outputs exist, none is older than a source, and the stage config is this exporter's version
    (with or without semantics, as asked)."""
    if not all(p.is_file() for p in outputs):
        return False
    newest_source = max(p.stat().st_mtime for p in sources)
    if any(p.stat().st_mtime < newest_source for p in outputs):
        return False
    try:
        meta = json.loads(stage_config.read_text()).get("user_defined", {})
    except (OSError, json.JSONDecodeError):
        return False
    return meta.get("v4s_export_version") == EXPORT_VERSION and meta.get("v4s_semantic") == semantic


def _stage_config(spec: SceneSpec, out: Path, semantic_glb: Path | None, ssd: Path | None) -> dict[str, Any]:
    if spec.up_axis not in _FRAMES:
        raise ValueError(f"scene {spec.scene_id!r}: up_axis must be 'y' or 'z', got {spec.up_axis!r}")
    up, front = _FRAMES[spec.up_axis]
    glb = Path(spec.glb)
    config: dict[str, Any] = {
        "render_asset": _ref(glb, out),
        "collision_asset": _ref(glb, out),
        "up": up,
        "front": front,
        "origin": [0.0, 0.0, 0.0],
    }
    navmesh = glb.with_name(f"{_stem(spec)}.navmesh")
    if navmesh.is_file():
        config["nav_asset"] = _ref(navmesh, out)
    if semantic_glb is not None and ssd is not None:
        # the semantic mesh is written in habitat's world frame (y up), whatever the render asset's frame
        config.update({
            "semantic_asset": _ref(semantic_glb, out),
            "semantic_descriptor_filename": _ref(ssd, out),
            "semantic_up": _FRAMES["y"][0],
            "semantic_front": _FRAMES["y"][1],
            "has_semantic_textures": False,
        })
    config["user_defined"] = {"v4s_export_version": EXPORT_VERSION, "v4s_scene_id": spec.scene_id,
                              "v4s_semantic": semantic_glb is not None}
    return config


def write_stage_config(spec: SceneSpec | str | os.PathLike[str]) -> Path:
    """Write (when missing or stale) the ``<stem>.stage_config.json`` of a scene without v4s semantics.

    It names the GLB as render and collision asset with the frame of ``spec.up_axis``, and a
    ``<stem>.navmesh`` beside the GLB when there is one. Returns the stage config path.
    """
    spec = resolve_scene(spec)
    glb = Path(spec.glb)
    if not glb.is_file():
        raise FileNotFoundError(f"scene GLB not found: {glb}")
    name, sources = f"{_stem(spec)}.stage_config.json", _sources(spec)
    out, fresh = _pick_output_dir(spec, lambda d: _fresh([d / name], sources, d / name, False))
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
      (named apart from :func:`write_stage_config`'s plain ``<stem>.stage_config.json``).

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
    stem, sources = _stem(spec), _sources(spec)

    def files_in(d: Path) -> HabitatSceneFiles:
        return HabitatSceneFiles(stage_config=d / f"{stem}.semantic.stage_config.json",
                                 semantic_glb=d / f"{stem}.semantic.glb",
                                 semantic_descriptor=d / f"{stem}.semantic.txt")

    def fresh_in(d: Path) -> bool:
        f = files_in(d)
        return _fresh([f.semantic_glb, f.semantic_descriptor, f.stage_config], sources,  # type: ignore[list-item]
                      f.stage_config, True)

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


# ====================================================================== pathfinder


def _point(pt: Any, what: str = "point") -> np.ndarray:
    p = np.asarray(pt, dtype=np.float32).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{what} must be 3 finite numbers [x, y, z], got {pt!r}")
    return p


def _points(pts: Any, what: str = "points") -> np.ndarray:
    p = np.asarray(pts, dtype=np.float32)
    if p.ndim == 1:
        p = p.reshape(1, -1)
    if p.ndim != 2 or p.shape[1] != 3 or not np.all(np.isfinite(p)):
        raise ValueError(f"{what} must be a list of [x, y, z] points, got {pts!r}")
    return p


def _as_f64(v: Any) -> np.ndarray:
    return np.array(v, dtype=np.float64).reshape(-1)


class HabitatPathFinder:
    """habitat-sim's ``PathFinder`` with v4s's contract on top.

    Every habitat method and property passes through (``try_step``, ``island_radius``,
    ``nav_mesh_settings``...). Points come back as float64 numpy arrays; ``find_path``
    also takes v4s's :class:`ShortestPath` / :class:`MultiGoalShortestPath` dataclasses and
    copies ``points``, ``geodesic_distance`` and ``closest_end_point_index`` back into them;
    ``geodesic_distance`` is added (inf when unreachable).
    """

    def __init__(self, pathfinder: Any, habitat_sim: Any):
        self._pf = pathfinder
        self._hsim = habitat_sim

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._pf, name)

    @property
    def habitat_pathfinder(self) -> Any:
        """The wrapped ``habitat_sim.nav.PathFinder``."""
        return self._pf

    def is_navigable(self, pt: Sequence[float], max_y_delta: float = 0.5) -> bool:
        return bool(self._pf.is_navigable(_point(pt), max_y_delta))

    def snap_point(self, pt: Sequence[float], *args: Any, **kwargs: Any) -> np.ndarray:
        """The nearest navigable point, (3,) float64 (NaNs when there is none)."""
        return _as_f64(self._pf.snap_point(_point(pt), *args, **kwargs))

    def get_random_navigable_point(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return _as_f64(self._pf.get_random_navigable_point(*args, **kwargs))

    def seed(self, new_seed: int) -> None:
        self._pf.seed(int(new_seed))

    def get_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._pf.get_bounds()
        return _as_f64(lo), _as_f64(hi)

    @property
    def navigable_area(self) -> float:
        return float(self._pf.navigable_area)

    @property
    def is_loaded(self) -> bool:
        return bool(self._pf.is_loaded)

    def find_path(self, path: Any) -> bool:
        """Fill ``path`` (ours or habitat's) with the shortest path; True when one exists."""
        if isinstance(path, MultiGoalShortestPath):
            if path.requested_start is None or len(path.requested_ends) == 0:
                raise ValueError("MultiGoalShortestPath needs requested_start and at least one requested_ends point")
            hp = self._hsim.MultiGoalShortestPath()
            hp.requested_start = _point(path.requested_start, "requested_start")
            ends = _points(path.requested_ends, "requested_ends")
            hp.requested_ends = ends
            found = bool(self._pf.find_path(hp))
            path.points = [_as_f64(p) for p in hp.points]
            path.geodesic_distance = float(hp.geodesic_distance) if found else math.inf
            index = getattr(hp, "closest_end_point_index", None)  # absent before habitat-sim 0.2.2
            if index is None:
                index = int(np.argmin(np.linalg.norm(ends - path.points[-1], axis=1))) if found and path.points else -1
            path.closest_end_point_index = int(index) if found else -1
            return found
        if isinstance(path, ShortestPath):
            if path.requested_start is None or path.requested_end is None:
                raise ValueError("ShortestPath needs requested_start and requested_end")
            hp = self._hsim.ShortestPath()
            hp.requested_start = _point(path.requested_start, "requested_start")
            hp.requested_end = _point(path.requested_end, "requested_end")
            found = bool(self._pf.find_path(hp))
            path.points = [_as_f64(p) for p in hp.points]
            path.geodesic_distance = float(hp.geodesic_distance) if found else math.inf
            return found
        return bool(self._pf.find_path(path))  # habitat's own ShortestPath / MultiGoalShortestPath

    def geodesic_distance(self, start: Sequence[float], end: Sequence[float] | Sequence[Sequence[float]]) -> float:
        """Shortest walking distance from ``start`` to ``end`` (or to the nearest of several ends);
        inf when none can be reached. Same recipe as habitat-lab's ``HabitatSim.geodesic_distance``."""
        ends = np.asarray(end, dtype=np.float64)
        if ends.size == 0:
            return math.inf
        path = MultiGoalShortestPath(requested_start=np.asarray(start, dtype=np.float64),
                                     requested_ends=list(_points(ends, "end")))
        return path.geodesic_distance if self.find_path(path) else math.inf


# ====================================================================== observations


def convert_observations(raw: Mapping[str, Any], collided: bool) -> dict[str, Any]:
    """habitat-sim's observation dict -> v4s's: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W, 1) float32
    metres, ``semantic`` (H, W) int32, ``collided`` bool. Always copies: habitat-sim reuses its buffers."""
    out: dict[str, Any] = {}
    if "rgb" in raw:  # RGBA8, vertically flipped views of the render buffer
        rgb = np.asarray(raw["rgb"])
        out["rgb"] = np.array(rgb[..., :3] if rgb.ndim == 3 else rgb, dtype=np.uint8, order="C")
    if "depth" in raw:  # (H, W) float32 metres along the optical axis
        depth = np.array(raw["depth"], dtype=np.float32, order="C")
        out["depth"] = depth.reshape(depth.shape[0], depth.shape[1], 1)
    if "semantic" in raw:  # (H, W) uint32 semantic ids
        sem = np.asarray(raw["semantic"])
        out["semantic"] = np.array(sem.reshape(sem.shape[0], sem.shape[1]), dtype=np.int32, order="C")
    out["collided"] = bool(collided)
    return out


def semantic_scene_objects(semantic_scene: Any) -> list[SceneObject]:
    """v4s SceneObjects from a habitat ``SemanticScene`` (ids are ``semantic_id``; id 0 / Unknown skipped)."""
    objects: dict[int, SceneObject] = {}
    for obj in list(getattr(semantic_scene, "objects", None) or []):
        if obj is None:
            continue
        sid = int(obj.semantic_id)
        if sid <= 0 or sid in objects:
            continue
        category = obj.category.name() if obj.category is not None else "unknown"
        center = np.asarray(obj.aabb.center, dtype=np.float64).reshape(3)
        size = np.abs(np.asarray(obj.aabb.sizes, dtype=np.float64).reshape(3))
        if not (np.all(np.isfinite(center)) and np.all(np.isfinite(size))):
            continue
        region = getattr(obj, "region", None)
        room = -1
        if region is not None:
            try:
                room = int(region.index)
            except (AttributeError, TypeError, ValueError):
                room = -1
        lo, hi = center - size / 2.0, center + size / 2.0
        objects[sid] = SceneObject(id=sid, category=str(category), room=room, node=str(obj.id),
                                   aabb=(tuple(map(float, lo)), tuple(map(float, hi))))  # type: ignore[arg-type]
    return [objects[k] for k in sorted(objects)]


# ====================================================================== the simulator


class HabitatSim:
    """The :class:`~v4s.envs.sim.base.Simulator` on habitat-sim (see the module docstring)."""

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()
        self._hsim = _import_habitat_sim()
        from habitat_sim.utils.common import quat_from_coeffs, quat_to_coeffs  # [x, y, z, w] <-> np.quaternion

        self._quat_from_coeffs, self._quat_to_coeffs = quat_from_coeffs, quat_to_coeffs
        self._sim: Any = None
        self._spec: SceneSpec | None = None
        self._stage: Path | None = None
        self._metadata: SceneMetadata | None = None
        self._pathfinder: HabitatPathFinder | None = None
        self._objects: list[SceneObject] | None = None
        self._collided = False
        self._closed = False

    # ------------------------------------------------------------------ configuration
    def _lit(self, metadata: SceneMetadata | None) -> bool:
        c = self.config.lighting
        return c == "on" or (c == "auto" and metadata is not None and metadata.generated_by_v4s)

    def navmesh_settings(self) -> Any:
        """habitat's ``NavMeshSettings`` for this config (ShortestPathBindings.cpp field names)."""
        c = self.config
        s = self._hsim.nav.NavMeshSettings()
        s.set_defaults()
        s.agent_radius = float(c.agent_radius)
        s.agent_height = float(c.agent_height)
        s.agent_max_climb = float(c.max_climb)
        s.agent_max_slope = float(c.max_slope)
        s.cell_size = float(c.nav_cell_size)
        if hasattr(s, "include_static_objects"):  # habitat-sim >= 0.3; physics is off, nothing static to add
            s.include_static_objects = False
        return s

    def _configuration(self, stage: Path, lit: bool) -> Any:
        """habitat_sim.Configuration for ``stage`` (names verified against SimBindings.cpp,
        SensorBindings.cpp, agent/agent.py and utils/settings.py::make_cfg)."""
        hsim, c = self._hsim, self.config
        sim_cfg = hsim.SimulatorConfiguration()
        sim_cfg.scene_id = str(stage)
        sim_cfg.enable_physics = False
        sim_cfg.gpu_device_id = int(c.gpu_device_id)
        sim_cfg.allow_sliding = bool(c.allow_sliding)
        sim_cfg.scene_light_setup = hsim.gfx.DEFAULT_LIGHTING_KEY if lit else hsim.gfx.NO_LIGHT_KEY
        sim_cfg.override_scene_light_defaults = True
        sim_cfg.load_semantic_mesh = "semantic" in c.sensors
        try:  # habitat-sim >= 0.3: recompute the navmesh at load when the loaded one does not match
            sim_cfg.navmesh_settings = self.navmesh_settings()
        except AttributeError:
            pass
        sensor_types = {"rgb": hsim.SensorType.COLOR, "depth": hsim.SensorType.DEPTH,
                        "semantic": hsim.SensorType.SEMANTIC}
        specs = []
        for name in c.sensors:
            spec = hsim.CameraSensorSpec()
            spec.uuid = name
            spec.sensor_type = sensor_types[name]
            spec.sensor_subtype = hsim.SensorSubType.PINHOLE
            spec.resolution = [int(c.height), int(c.width)]
            spec.position = [0.0, float(c.sensor_height), 0.0]
            spec.hfov = float(c.hfov)
            spec.far = float(c.zfar)
            specs.append(spec)
        agent_cfg = hsim.agent.AgentConfiguration()
        agent_cfg.height = float(c.agent_height)
        agent_cfg.radius = float(c.agent_radius)
        agent_cfg.sensor_specifications = specs
        act, spec_ = hsim.agent.ActionSpec, hsim.agent.ActuationSpec
        agent_cfg.action_space = {
            "move_forward": act("move_forward", spec_(amount=float(c.forward_step_size))),
            "turn_left": act("turn_left", spec_(amount=float(c.turn_angle))),
            "turn_right": act("turn_right", spec_(amount=float(c.turn_angle))),
        }
        return hsim.Configuration(sim_cfg, [agent_cfg])

    # ------------------------------------------------------------------ scene
    def load_scene(self, scene: SceneSpec | str | os.PathLike[str]) -> None:
        """Load a generated house id, a ``.glb`` path or a SceneSpec; a no-op for the loaded scene.

        The agent is placed at the navigable point nearest the navmesh's centre, facing -z."""
        self._check_open()
        spec = resolve_scene(scene)
        if spec == self._spec and self._sim is not None:
            return
        metadata = load_semantic(spec.semantic) if spec.semantic is not None else None
        stage = export_habitat_semantics(spec) if metadata is not None else write_stage_config(spec)
        cfg = self._configuration(stage, self._lit(metadata))
        if self._sim is None:
            self._sim = self._hsim.Simulator(cfg)
        elif stage != self._stage:
            # as habitat-lab's HabitatSim.reconfigure: free the old scene's assets, keep the GL context
            self._spec = self._stage = None  # until the new scene is fully loaded
            self._sim.close(destroy=False)
            self._sim.reconfigure(cfg)
        self._stage, self._metadata, self._objects = stage, metadata, None
        self._ensure_navmesh(spec)
        self._pathfinder = HabitatPathFinder(self._sim.pathfinder, self._hsim)
        self._place_agent_at_start()
        self._spec, self._collided = spec, False

    def _ensure_navmesh(self, spec: SceneSpec) -> None:
        """Recompute the navmesh unless the loaded one was built with exactly our settings."""
        pf, wanted = self._sim.pathfinder, self.navmesh_settings()
        current = getattr(pf, "nav_mesh_settings", None) if pf.is_loaded else None
        if current is not None and current == wanted:
            return
        ok = self._sim.recompute_navmesh(pf, wanted)
        if not ok or not self._sim.pathfinder.is_loaded:
            self._spec = None
            raise RuntimeError(f"habitat-sim could not build a navmesh for scene {spec.scene_id!r} ({spec.glb}) "
                               f"with agent radius {self.config.agent_radius} m and height "
                               f"{self.config.agent_height} m: no navigable area. Check the up axis (the scene "
                               f"was read {spec.up_axis}-up; z-up scans need SceneSpec(up_axis='z')) and the "
                               "scale (v4s expects metres), and that the scene has a floor")

    def _place_agent_at_start(self) -> None:
        pf = self._sim.pathfinder
        lo, hi = (_as_f64(b) for b in pf.get_bounds())
        start = _as_f64(pf.snap_point(_point((lo + hi) / 2.0)))
        if not np.all(np.isfinite(start)):
            start = _as_f64(pf.get_random_navigable_point())
        self._set_state(start, yaw_to_quaternion(0.0))

    @property
    def scene(self) -> SceneSpec | None:
        return self._spec

    @property
    def habitat_sim(self) -> Any:
        """The underlying ``habitat_sim.Simulator``."""
        self._check_loaded()
        return self._sim

    @property
    def pathfinder(self) -> HabitatPathFinder:
        self._check_loaded()
        return self._pathfinder  # type: ignore[return-value]

    @property
    def objects(self) -> list[SceneObject]:
        """From the scene's ``.semantic.json`` when it has one (same ids as the embedded backend),
        else from habitat's ``semantic_scene``."""
        self._check_loaded()
        if self._objects is None:
            if self._metadata is not None:
                self._objects = list(self._metadata.objects)
            else:
                self._objects = semantic_scene_objects(self._sim.semantic_scene)
        return list(self._objects)

    # ------------------------------------------------------------------ agent
    @property
    def agent_state(self) -> AgentState:
        self._check_loaded()
        state = self._sim.get_agent(0).get_state()
        rotation = state.rotation
        if hasattr(rotation, "imag"):  # numpy-quaternion, as Agent.get_state returns
            coeffs = _as_f64(self._quat_to_coeffs(rotation))
        else:
            coeffs = _as_f64(rotation)
        try:  # the agent only yaws: drop habitat's float32 noise in x and z, and pick the w >= 0 sign
            coeffs = yaw_to_quaternion(quaternion_to_yaw(coeffs))
        except ValueError:
            coeffs = coeffs / np.linalg.norm(coeffs)
        return AgentState(position=_as_f64(state.position), rotation=coeffs)

    def set_agent_state(self, position: Sequence[float], rotation: Sequence[float] | None = None) -> None:
        """Place the agent's feet at ``position`` (3,) metres, turned by ``rotation`` [x, y, z, w]
        (yaw only; None keeps the current heading). Raises NotNavigableError off the navmesh.

        Like the embedded backend puts the feet on the floor, the height is taken from the navmesh
        (``snap_point``), where habitat-sim's own steps keep the agent; x and z are kept as given."""
        self._check_loaded()
        p = np.asarray(position, dtype=np.float64).reshape(-1)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise ValueError(f"position must be 3 finite numbers [x, y, z], got {position!r}")
        if rotation is None:
            q = self.agent_state.rotation
        else:
            q = yaw_to_quaternion(quaternion_to_yaw(rotation))  # validates: yaw only, unit length
        if not self._pathfinder.is_navigable(p):  # type: ignore[union-attr]
            raise not_navigable_error(p, self._pathfinder.snap_point(p),  # type: ignore[union-attr]
                                      self._spec.scene_id, self.config.agent_radius,  # type: ignore[union-attr]
                                      navigation="navigable area (habitat navmesh)")
        snapped = self._pathfinder.snap_point(p)  # type: ignore[union-attr]
        if np.all(np.isfinite(snapped)):
            p = np.array([p[0], snapped[1], p[2]])
        self._set_state(p, q)
        self._collided = False

    def _set_state(self, position: np.ndarray, rotation_xyzw: np.ndarray) -> None:
        hsim = self._hsim
        state = hsim.AgentState()
        state.position = np.asarray(position, dtype=np.float32)
        state.rotation = self._quat_from_coeffs(np.asarray(rotation_xyzw, dtype=np.float64))
        self._sim.get_agent(0).set_state(state, reset_sensors=True)

    @property
    def previous_step_collided(self) -> bool:
        """Whether the last ``step`` hit something (habitat-lab keeps this as ``obs['collided']``)."""
        return self._collided

    def step(self, action: str) -> dict[str, Any]:
        """Apply one of ``move_forward``, ``turn_left``, ``turn_right`` and observe."""
        check_action(action)
        self._check_loaded()
        raw = self._sim.step(action)
        self._collided = bool(raw.get("collided", False))
        return convert_observations(raw, self._collided)

    def observe(self) -> dict[str, Any]:
        """Render the sensors at the current agent state (``collided`` is False)."""
        self._check_loaded()
        return convert_observations(self._sim.get_sensor_observations(), False)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Close habitat-sim and free its GPU context; idempotent."""
        sim, self._sim = self._sim, None
        self._spec, self._stage, self._metadata, self._pathfinder, self._objects = None, None, None, None, None
        self._closed = True
        if sim is not None:
            sim.close()

    def __enter__(self) -> HabitatSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this HabitatSim is closed: make a new simulator with make_sim()")

    def _check_loaded(self) -> None:
        self._check_open()
        if self._sim is None:
            raise RuntimeError("no scene loaded: call load_scene() first")


__all__ = ["CONDA_INSTALL", "HM3D_SSD_HEADER", "HabitatPathFinder", "HabitatSceneFiles", "HabitatSim",
           "MAX_SEMANTIC_ID", "convert_observations", "export_habitat_semantics", "hm3d_descriptor",
           "linear_to_srgb8", "parse_hm3d_descriptor", "read_semantic_glb", "semantic_color",
           "semantic_scene_objects", "write_semantic_glb", "write_stage_config"]

"""Render a SceneMesh to rgb, depth and semantic images with moderngl.

The whole scene is one indexed vertex buffer and one draw call: every texture is
resampled into a layer of one texture array, and each vertex carries its layer,
colour, object id and whether it is shaded. One pass writes all requested sensors as
separate colour attachments (RGBA8 colour, R32F linear depth, R32I object id). A scene
with a semantic mesh of its own (HM3D's) draws the semantic sensor from it in a second
pass, as habitat-sim renders its semantic scene.
"""

from __future__ import annotations

import math

import moderngl
import numpy as np
from PIL import Image

from v4s.envs.scenes.mesh import SceneMesh

_VERTEX_SHADER = """
#version 330
uniform mat4 u_view;
uniform mat4 u_projection;
in vec3 in_position;
in vec2 in_uv;
in vec4 in_color;
in int in_texture;
in int in_object;
in int in_lit;
out vec3 v_world;
out vec2 v_uv;
out vec4 v_color;
out float v_depth;
flat out int v_texture;
flat out int v_object;
flat out int v_lit;
void main() {
    vec4 view = u_view * vec4(in_position, 1.0);
    v_world = in_position;
    v_uv = in_uv;
    v_color = in_color;
    v_depth = -view.z;
    v_texture = in_texture;
    v_object = in_object;
    v_lit = in_lit;
    gl_Position = u_projection * view;
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform sampler2DArray u_textures;
in vec3 v_world;
in vec2 v_uv;
in vec4 v_color;
in float v_depth;
flat in int v_texture;
flat in int v_object;
flat in int v_lit;
OUTPUTS
void main() {
#ifdef RGB
    vec4 color = v_color;
    if (v_texture >= 0) color *= texture(u_textures, vec3(v_uv, float(v_texture)));
    if (v_lit != 0) {
        // flat shading from the face normal: walls of different orientations differ in brightness
        vec3 n = abs(normalize(cross(dFdx(v_world), dFdy(v_world))));
        color.rgb *= 0.55 + 0.45 * min(1.0, dot(n, vec3(0.55, 1.0, 0.8)));
    }
    out_rgb = vec4(color.rgb, 1.0);
#endif
#ifdef DEPTH
    out_depth = v_depth;
#endif
#ifdef SEMANTIC
    out_semantic = v_object;
#endif
}
"""

_VERTEX_DTYPE = np.dtype([("position", "<f4", 3), ("uv", "<f4", 2), ("color", "u1", 4),
                          ("texture", "<i4"), ("object", "<i4"), ("lit", "<i4")])
_ATTRIBUTES = {"in_position": "3f", "in_uv": "2f", "in_color": "4f1", "in_texture": "i", "in_object": "i",
               "in_lit": "i"}  # moderngl formats, in _VERTEX_DTYPE's order
_SKIP = {"3f": "12x", "2f": "8x", "4f1": "4x", "i": "4x"}  # the same widths, skipped


def projection_matrix(hfov_deg: float, width: int, height: int, znear: float, zfar: float) -> np.ndarray:
    """OpenGL projection (4, 4) for a horizontal field of view, with y flipped so that
    framebuffer row 0 is the top of the image."""
    fx = 1.0 / math.tan(math.radians(hfov_deg) / 2.0)
    fy = fx * width / height
    return np.array([
        [fx, 0.0, 0.0, 0.0],
        [0.0, -fy, 0.0, 0.0],
        [0.0, 0.0, (zfar + znear) / (znear - zfar), 2.0 * zfar * znear / (znear - zfar)],
        [0.0, 0.0, -1.0, 0.0],
    ])


def view_matrix(eye: np.ndarray, yaw: float) -> np.ndarray:
    """World-to-camera (4, 4) for a camera at ``eye`` (3,) turned ``yaw`` radians about +y."""
    c, s = math.cos(yaw), math.sin(yaw)
    # inverse of [R_y(yaw) | eye]: R^T and -R^T eye
    x, y, z = float(eye[0]), float(eye[1]), float(eye[2])
    return np.array([
        [c, 0.0, -s, -(c * x - s * z)],
        [0.0, 1.0, 0.0, -y],
        [s, 0.0, c, -(s * x + c * z)],
        [0.0, 0.0, 0.0, 1.0],
    ])


def _texture_stack(textures: list[np.ndarray], max_size: int) -> np.ndarray:
    """Resample RGBA images to one square size: (L, S, S, 4) uint8."""
    if not textures:
        return np.full((1, 1, 1, 4), 255, dtype=np.uint8)
    size = min(max_size, max(max(t.shape[:2]) for t in textures))
    out = np.empty((len(textures), size, size, 4), dtype=np.uint8)
    for i, tex in enumerate(textures):
        if tex.shape[:2] == (size, size):
            out[i] = tex
            continue
        # nearest when enlarging keeps palette cells crisp; box filter when shrinking avoids aliasing
        resample = Image.NEAREST if max(tex.shape[:2]) < size else Image.BOX
        out[i] = np.asarray(Image.fromarray(tex).resize((size, size), resample))
    return out


class SceneRenderer:
    """GPU resources of one scene plus the framebuffer of one camera.

    ``sensors`` picks which images are rendered and read back: any of "rgb", "depth", "semantic".
    ``lit`` (V,) bool marks the vertices of ``mesh`` that get flat shading from the face normal.
    """

    def __init__(self, ctx: moderngl.Context, mesh: SceneMesh, width: int, height: int, hfov: float,
                 sensors: tuple[str, ...], lit: np.ndarray, max_texture_size: int = 512,
                 znear: float = 0.01, zfar: float = 100.0):
        self.ctx = ctx
        self.width, self.height = width, height
        self.sensors = tuple(s for s in ("rgb", "depth", "semantic") if s in sensors)
        self._objects: list = []
        projection = projection_matrix(hfov, width, height, znear, zfar).T.astype(np.float32).tobytes()
        own_semantic = mesh.semantic_mesh is not None and "semantic" in self.sensors
        self._scene_sensors = tuple(s for s in self.sensors if not (own_semantic and s == "semantic"))

        vertices = np.empty(len(mesh.positions), dtype=_VERTEX_DTYPE)
        vertices["position"], vertices["uv"], vertices["color"] = mesh.positions, mesh.uvs, mesh.colors
        vertices["texture"], vertices["object"], vertices["lit"] = mesh.texture_index, mesh.object_ids, lit
        self.program, self.vao, self.fbo, self._u_view = self._pass(self._scene_sensors, vertices, mesh.faces,
                                                                    projection)
        # what draw() renders and read() reads back: (vertex array, framebuffer, view uniform), (framebuffer,
        # attachment, sensor)
        self._draws = [(self.vao, self.fbo, self._u_view)] if self._scene_sensors or not own_semantic else []
        self._targets = [(self.fbo, location, sensor) for location, sensor in enumerate(self._scene_sensors)]
        if own_semantic:
            semantic = mesh.semantic_mesh
            vertices = np.zeros(len(semantic.positions), dtype=_VERTEX_DTYPE)
            vertices["position"], vertices["object"], vertices["texture"] = semantic.positions, semantic.object_ids, -1
            _, vao, fbo, u_view = self._pass(("semantic",), vertices, semantic.faces, projection)
            self._draws.append((vao, fbo, u_view))
            self._targets.append((fbo, 0, "semantic"))
        stack = _texture_stack(mesh.textures, max_texture_size)
        self.textures = self._keep(ctx.texture_array(stack.shape[2:0:-1] + (stack.shape[0],), 4, stack.tobytes()))
        self.textures.repeat_x = self.textures.repeat_y = True
        self.textures.build_mipmaps()
        self.textures.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        if "u_textures" in self.program:
            self.program["u_textures"].value = 0

    def _pass(self, sensors: tuple[str, ...], vertices: np.ndarray, faces: np.ndarray, projection: bytes):
        """(program, vertex array, framebuffer, view uniform) drawing ``vertices`` into ``sensors``."""
        ctx, width, height = self.ctx, self.width, self.height
        outputs, attachments = [], []
        for location, sensor in enumerate(sensors):
            kind = {"rgb": ("vec4 out_rgb", 4, "f1"), "depth": ("float out_depth", 1, "f4"),
                    "semantic": ("int out_semantic", 1, "i4")}[sensor]
            outputs.append(f"layout(location = {location}) out {kind[0]};")
            attachments.append(self._keep(ctx.renderbuffer((width, height), kind[1], dtype=kind[2])))
        if not attachments:  # nothing requested: still need a target for the depth test
            attachments.append(self._keep(ctx.renderbuffer((width, height), 1, dtype="f1")))
        defines = "".join(f"#define {s.upper()}\n" for s in sensors)
        fragment = _FRAGMENT_SHADER.replace("#version 330\n", "#version 330\n" + defines).replace(
            "OUTPUTS", "\n".join(outputs))
        program = self._keep(ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=fragment))
        fbo = self._keep(ctx.framebuffer(attachments, self._keep(ctx.depth_renderbuffer((width, height)))))
        vbo = self._keep(ctx.buffer(vertices.tobytes()))
        ibo = self._keep(ctx.buffer(np.ascontiguousarray(faces, dtype=np.uint32).tobytes()))
        names = [n for n in _ATTRIBUTES if n in program]
        layout = " ".join(f if n in names else _SKIP[f] for n, f in _ATTRIBUTES.items())
        vao = self._keep(ctx.vertex_array(program, [(vbo, layout, *names)], index_buffer=ibo, index_element_size=4))
        program["u_projection"].write(projection)
        return program, vao, fbo, program["u_view"]

    def _keep(self, gl_object):
        self._objects.append(gl_object)
        return gl_object

    def draw(self, view: np.ndarray) -> None:
        """Render the scene seen through ``view`` (4, 4) into the framebuffers."""
        matrix = view.T.astype(np.float32).tobytes()
        self.ctx.enable_only(moderngl.DEPTH_TEST)
        self.textures.use(0)
        for vao, fbo, u_view in self._draws:
            fbo.use()
            fbo.clear(0.0, 0.0, 0.0, 0.0)
            u_view.write(matrix)
            vao.render(moderngl.TRIANGLES)

    def read(self) -> dict[str, np.ndarray]:
        """Read back the sensors of the last draw into fresh arrays."""
        out: dict[str, np.ndarray] = {}
        h, w = self.height, self.width
        for fbo, location, sensor in self._targets:
            if sensor == "rgb":
                out["rgb"] = np.empty((h, w, 3), dtype=np.uint8)
                fbo.read_into(out["rgb"], components=3, attachment=location)
            elif sensor == "depth":
                out["depth"] = np.empty((h, w, 1), dtype=np.float32)
                fbo.read_into(out["depth"], components=1, attachment=location, dtype="f4")
            else:
                out["semantic"] = np.empty((h, w), dtype=np.int32)
                fbo.read_into(out["semantic"], components=1, attachment=location, dtype="i4")
        return out

    def render(self, eye: np.ndarray, yaw: float) -> dict[str, np.ndarray]:
        """Sensors (see :meth:`read`) of a camera at ``eye`` (3,) metres turned ``yaw`` radians."""
        self.draw(view_matrix(eye, yaw))
        return self.read()

    def release(self) -> None:
        """Free every GL object this renderer made (the context stays)."""
        for gl_object in reversed(self._objects):
            gl_object.release()
        self._objects.clear()

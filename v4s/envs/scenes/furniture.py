"""Furniture built from primitives: boxes, (elliptic) frustums and low-poly ellipsoids.

Each builder takes a numpy ``Generator`` and returns a :class:`Furniture` in its
local frame: metres, y up, resting on y = 0, footprint centred on the origin, its
front (the side people use or look at) facing +z. Every part carries one solid
colour; the house assembly maps colours to cells of one palette texture.

Meshes are indexed with per-face-group vertices (a box has 24 vertices so its
normals are flat). Faces that can never be seen (the bottom of a part standing on
y = 0) are left out to save triangles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh

from v4s.envs.scenes.textures import hsv

Color = tuple[int, int, int]

# ----------------------------------------------------------------------------- colours


def rgb(c) -> Color:
    """Float RGB in [0, 1] -> uint8 tuple."""
    a = np.clip(np.rint(np.asarray(c, dtype=np.float64) * 255.0), 0, 255).astype(int)
    return int(a[0]), int(a[1]), int(a[2])


def c_hsv(h: float, s: float, v: float) -> Color:
    return rgb(hsv(h, s, v))


def c_scale(c: Color, f: float) -> Color:
    return rgb(np.asarray(c) / 255.0 * f)


def c_wood(rng: np.random.Generator) -> Color:
    return c_hsv(rng.uniform(0.05, 0.11), rng.uniform(0.35, 0.72), rng.uniform(0.25, 0.8))


def c_fabric(rng: np.random.Generator) -> Color:
    """Upholstery: muted to saturated, any hue; sometimes grey or leather."""
    r = rng.random()
    if r < 0.25:
        return c_hsv(rng.random(), rng.uniform(0.0, 0.08), rng.uniform(0.25, 0.8))  # greys
    if r < 0.4:
        return c_hsv(rng.uniform(0.04, 0.09), rng.uniform(0.5, 0.8), rng.uniform(0.2, 0.5))  # leather
    return c_hsv(rng.random(), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.8))


def c_bright(rng: np.random.Generator) -> Color:
    return c_hsv(rng.random(), rng.uniform(0.45, 0.9), rng.uniform(0.5, 0.95))


def c_white(rng: np.random.Generator) -> Color:
    return c_hsv(rng.uniform(0.05, 0.6), rng.uniform(0.0, 0.05), rng.uniform(0.9, 0.98))


def c_dark(rng: np.random.Generator) -> Color:
    return c_hsv(rng.random(), rng.uniform(0.0, 0.2), rng.uniform(0.06, 0.2))


def c_metal(rng: np.random.Generator) -> Color:
    return c_hsv(rng.uniform(0.55, 0.65), rng.uniform(0.0, 0.08), rng.uniform(0.55, 0.8))


def c_green(rng: np.random.Generator) -> Color:
    return c_hsv(rng.uniform(0.22, 0.38), rng.uniform(0.5, 0.85), rng.uniform(0.28, 0.62))


def c_furniture(rng: np.random.Generator) -> Color:
    """Cabinet bodies: wood most of the time, else painted."""
    r = rng.random()
    if r < 0.55:
        return c_wood(rng)
    if r < 0.75:
        return c_white(rng)
    return c_hsv(rng.random(), rng.uniform(0.1, 0.5), rng.uniform(0.3, 0.8))


def pack(c: Color) -> int:
    return (c[0] << 16) | (c[1] << 8) | c[2]


def unpack(p: np.ndarray) -> np.ndarray:
    """(K,) packed colours -> (K, 3) uint8."""
    p = np.asarray(p, dtype=np.int64)
    return np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], axis=1).astype(np.uint8)


# ----------------------------------------------------------------------------- transforms


def rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)


def rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


def yaw_quarter(k: int) -> np.ndarray:
    """Exact rotation about +y by k * 90 degrees (maps local +z to +z, +x, -z, -x for k = 0..3)."""
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][k % 4]
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


# ----------------------------------------------------------------------------- primitive templates

_FACE_NAMES = ("+x", "-x", "+y", "-y", "+z", "-z")


def _box_template() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per face of the unit cube [0, 1]^3: 4 corners and 2 outward-wound triangles."""
    out = {}
    for name in _FACE_NAMES:
        axis = "xyz".index(name[1])
        sign = 1.0 if name[0] == "+" else -1.0
        u, v = [a for a in range(3) if a != axis]
        corners = np.zeros((4, 3))
        corners[:, axis] = 1.0 if sign > 0 else 0.0
        corners[:, u] = [0, 1, 1, 0]
        corners[:, v] = [0, 0, 1, 1]
        tris = np.array([[0, 1, 2], [0, 2, 3]])
        n = np.cross(corners[1] - corners[0], corners[2] - corners[0])
        if n[axis] * sign < 0:
            tris = tris[:, ::-1]
        out[name] = (corners, tris)
    return out


_BOX = _box_template()
_SPHERES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _sphere(sub: int) -> tuple[np.ndarray, np.ndarray]:
    if sub not in _SPHERES:
        m = trimesh.creation.icosphere(subdivisions=sub)
        _SPHERES[sub] = (np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64))
    return _SPHERES[sub]


# ----------------------------------------------------------------------------- builder


class Parts:
    """Accumulates coloured primitives into one indexed mesh with flat/smooth normals."""

    def __init__(self) -> None:
        self._v: list[np.ndarray] = []
        self._n: list[np.ndarray] = []
        self._f: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._count = 0

    def _add(self, v: np.ndarray, n: np.ndarray, f: np.ndarray, color: Color,
             R: np.ndarray | None = None, t=None) -> None:
        if R is not None:
            v = v @ R.T
            n = n @ R.T
        if t is not None:
            v = v + np.asarray(t, dtype=np.float64)
        self._v.append(v)
        self._n.append(n)
        self._f.append(f + self._count)
        self._c.append(np.full(len(v), pack(color), dtype=np.int64))
        self._count += len(v)

    def box(self, lo, hi, color: Color, skip: tuple[str, ...] = (), R: np.ndarray | None = None, t=None) -> None:
        """Axis-aligned box [lo, hi] (then rotated by R and moved by t). Bottom faces on y = 0 are skipped."""
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        skip = tuple(skip)
        if R is None and lo[1] <= 1e-9:
            skip = skip + ("-y",)
        verts, norms, tris = [], [], []
        k = 0
        for name in _FACE_NAMES:
            if name in skip:
                continue
            corners, ft = _BOX[name]
            axis = "xyz".index(name[1])
            nrm = np.zeros(3)
            nrm[axis] = 1.0 if name[0] == "+" else -1.0
            verts.append(lo + corners * (hi - lo))
            norms.append(np.broadcast_to(nrm, (4, 3)))
            tris.append(ft + k)
            k += 4
        if not verts:
            return
        self._add(np.concatenate(verts), np.concatenate(norms), np.concatenate(tris), color, R, t)

    def cyl(self, r0: float, r1: float, y0: float, y1: float, color: Color, seg: int = 10, c=(0.0, 0.0),
            scale=(1.0, 1.0), caps: str = "both", R: np.ndarray | None = None, t=None, side: bool = True) -> None:
        """Frustum along y from radius r0 at y0 to r1 at y1, centre c=(x, z), elliptic by scale=(sx, sz).

        caps: "both", "top", "bottom" or "none". A bottom cap on y = 0 is skipped. ``side=False``
        leaves out the mantle (a flat disc when only the top cap remains).
        """
        if R is None and y0 <= 1e-9 and caps in ("both", "bottom"):
            caps = "top" if caps == "both" else "none"
        a = 2.0 * np.pi * (np.arange(seg) + 0.5) / seg
        ca, sa = np.cos(a) * scale[0], np.sin(a) * scale[1]
        ring = np.stack([ca, np.zeros(seg), sa], axis=1)
        lo = ring * r0 + [c[0], y0, c[1]]
        hi = ring * r1 + [c[0], y1, c[1]]
        # side normals: radial (corrected for ellipse) tilted by the taper
        nx, nz = np.cos(a) / scale[0], np.sin(a) / scale[1]
        nl = np.hypot(nx, nz)
        slope = (r0 - r1) / max(y1 - y0, 1e-9)
        sn = np.stack([nx / nl, np.full(seg, slope), nz / nl], axis=1)
        sn /= np.linalg.norm(sn, axis=1, keepdims=True)
        i = np.arange(seg)
        j = (i + 1) % seg
        if side:
            verts = [lo, hi]
            norms = [sn, sn]
            tris = [np.stack([i, seg + j, j], axis=1), np.stack([i, seg + i, seg + j], axis=1)]
            k = 2 * seg
        else:
            verts, norms, tris, k = [], [], [], 0
        fan = np.stack([np.zeros(seg - 2, dtype=np.int64), np.arange(2, seg), np.arange(1, seg - 1)], axis=1)
        if caps in ("both", "top"):
            verts.append(hi.copy())
            norms.append(np.broadcast_to([0.0, 1.0, 0.0], (seg, 3)))
            tris.append(fan + k)
            k += seg
        if caps in ("both", "bottom"):
            verts.append(lo.copy())
            norms.append(np.broadcast_to([0.0, -1.0, 0.0], (seg, 3)))
            tris.append(fan[:, ::-1] + k)
            k += seg
        self._add(np.concatenate(verts), np.concatenate(norms), np.concatenate(tris), color, R, t)

    def blob(self, center, radii, color: Color, sub: int = 1, R: np.ndarray | None = None) -> None:
        """Ellipsoid (icosphere with ``sub`` subdivisions) centred at ``center`` with semi-axes ``radii``."""
        v, f = _sphere(sub)
        radii = np.asarray(radii, dtype=np.float64)
        n = v / radii
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        vv = v * radii
        if R is not None:
            vv = vv @ R.T
            n = n @ R.T
        self._add(vv + np.asarray(center, dtype=np.float64), n, f.copy(), color)

    def quad(self, corners, normal, color: Color) -> None:
        """One planar quad (4 corners in order around it) facing ``normal``."""
        v = np.asarray(corners, dtype=np.float64).reshape(4, 3)
        nrm = np.asarray(normal, dtype=np.float64)
        tris = np.array([[0, 1, 2], [0, 2, 3]])
        if np.dot(np.cross(v[1] - v[0], v[2] - v[0]), nrm) < 0:
            tris = tris[:, ::-1]
        self._add(v, np.broadcast_to(nrm, (4, 3)).copy(), tris, color)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(vertices, normals, faces, packed colours) of everything added so far."""
        if not self._v:
            return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(self._v), np.concatenate(self._n), np.concatenate(self._f), np.concatenate(self._c)

    @property
    def num_triangles(self) -> int:
        return int(sum(len(f) for f in self._f))

    def build(self, category: str, visible: tuple[str, ...] = ("front", "back", "left", "right"),
              **info) -> Furniture:
        """Freeze into a :class:`Furniture`, re-centred so the footprint is centred and y_min = 0."""
        v = np.concatenate(self._v)
        lo, hi = v.min(axis=0), v.max(axis=0)
        shift = np.array([-(lo[0] + hi[0]) / 2.0, -lo[1], -(lo[2] + hi[2]) / 2.0])
        return Furniture(category=category, vertices=v + shift, normals=np.concatenate(self._n),
                         faces=np.concatenate(self._f), colors=np.concatenate(self._c), visible=visible,
                         info=dict(info))


@dataclass(eq=False)
class Furniture:
    """One object in its local frame (front +z, footprint centred, standing on y = 0)."""

    category: str
    vertices: np.ndarray  # (V, 3) float64
    normals: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3) int
    colors: np.ndarray  # (V,) packed RGB
    visible: tuple[str, ...]  # local sides the object can be recognised from
    info: dict

    def __post_init__(self) -> None:
        self._size = self.vertices.max(axis=0) - self.vertices.min(axis=0)
        self._size.setflags(write=False)

    @property
    def size(self) -> np.ndarray:
        """(3,) extents (width x, height y, depth z)."""
        return self._size

    @property
    def num_triangles(self) -> int:
        return len(self.faces)


# ----------------------------------------------------------------------------- ObjectNav categories


def chair(rng: np.random.Generator, style: str | None = None) -> Furniture:
    """A dining chair, an upholstered armchair or an office chair."""
    style = style or str(rng.choice(["dining", "dining", "armchair", "office"]))
    p = Parts()
    if style == "armchair":
        w, d = rng.uniform(0.72, 0.92), rng.uniform(0.72, 0.88)
        fab = c_fabric(rng)
        leg = c_wood(rng) if rng.random() < 0.7 else c_dark(rng)
        lh = rng.uniform(0.06, 0.14)
        seat_h = rng.uniform(0.42, 0.48)
        back_h = rng.uniform(0.85, 1.05)
        arm_h = rng.uniform(0.58, 0.68)
        arm_w = rng.uniform(0.1, 0.18)
        back_t = rng.uniform(0.14, 0.22)
        lt = 0.04
        for sx in (-1, 1):
            for sz in (-1, 1):
                x, z = sx * (w / 2 - lt), sz * (d / 2 - lt)
                p.box((x - lt / 2, 0, z - lt / 2), (x + lt / 2, lh, z + lt / 2), leg)
        p.box((-w / 2, lh, -d / 2), (w / 2, seat_h - 0.12, d / 2), fab)
        p.box((-w / 2 + arm_w + 0.005, seat_h - 0.12, -d / 2 + back_t), (w / 2 - arm_w - 0.005, seat_h, d / 2 - 0.01),
              c_scale(fab, 1.08))
        p.box((-w / 2, seat_h - 0.12, -d / 2), (w / 2, back_h, -d / 2 + back_t), fab)
        for sx in (-1, 1):
            x0, x1 = sorted((sx * w / 2, sx * (w / 2 - arm_w)))
            p.box((x0, seat_h - 0.12, -d / 2 + back_t), (x1, arm_h, d / 2), c_scale(fab, 0.95))
        return p.build("chair", style=style)
    if style == "office":
        fab = c_dark(rng) if rng.random() < 0.5 else c_fabric(rng)
        metal = c_metal(rng) if rng.random() < 0.5 else c_dark(rng)
        w, d = rng.uniform(0.48, 0.58), rng.uniform(0.46, 0.54)
        seat_h = rng.uniform(0.44, 0.52)
        r = rng.uniform(0.28, 0.33)
        wheel = c_dark(rng)
        for i in range(5):
            a = 2 * np.pi * i / 5 + np.pi / 2
            p.box((-0.02, 0.03, 0.0), (0.02, 0.07, r), metal, R=rot_y(a))
            p.box((-0.018, 0.0, r - 0.05), (0.018, 0.03, r - 0.01), wheel, R=rot_y(a), skip=("-y",))
        p.cyl(0.03, 0.025, 0.05, seat_h - 0.07, metal, seg=8, caps="none")
        p.box((-w / 2, seat_h - 0.07, -d / 2), (w / 2, seat_h, d / 2), fab)
        back_top = seat_h + rng.uniform(0.4, 0.6)
        tilt = rot_x(-rng.uniform(0.05, 0.18))
        p.box((-w / 2 + 0.02, 0.0, -0.03), (w / 2 - 0.02, back_top - seat_h - 0.03, 0.03), fab, R=tilt,
              t=(0, seat_h + 0.03, -d / 2 + 0.03))
        p.box((-0.03, seat_h - 0.06, -d / 2 - 0.02), (0.03, seat_h + 0.1, -d / 2 + 0.02), metal)
        if rng.random() < 0.6:
            for sx in (-1, 1):
                x = sx * (w / 2 + 0.02)
                p.box((x - 0.02, seat_h, -0.05), (x + 0.02, seat_h + 0.2, 0.0), metal)
                p.box((x - 0.035, seat_h + 0.2, -d / 2 + 0.05), (x + 0.035, seat_h + 0.23, d / 2 - 0.08), c_dark(rng))
        return p.build("chair", style=style)
    # dining chair
    w, d = rng.uniform(0.42, 0.52), rng.uniform(0.42, 0.52)
    seat_h = rng.uniform(0.43, 0.48)
    st = rng.uniform(0.03, 0.05)
    lt = rng.uniform(0.03, 0.045)
    frame = c_wood(rng) if rng.random() < 0.7 else (c_dark(rng) if rng.random() < 0.5 else c_bright(rng))
    seat_col = frame if rng.random() < 0.4 else c_fabric(rng)
    back_top = seat_h + rng.uniform(0.38, 0.52)
    round_legs = rng.random() < 0.35
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * (w / 2 - lt / 2 - 0.01), sz * (d / 2 - lt / 2 - 0.01)
            top = back_top if sz < 0 else seat_h - st
            if round_legs:
                p.cyl(lt / 2, lt / 2, 0.0, top, frame, seg=6, c=(x, z), caps="top")
            else:
                p.box((x - lt / 2, 0, z - lt / 2), (x + lt / 2, top, z + lt / 2), frame)
    p.box((-w / 2, seat_h - st, -d / 2), (w / 2, seat_h, d / 2), frame)
    if seat_col != frame:
        p.box((-w / 2 + 0.02, seat_h, -d / 2 + 0.03), (w / 2 - 0.02, seat_h + 0.04, d / 2 - 0.02), seat_col)
    zb0, zb1 = -d / 2 + 0.01, -d / 2 + 0.01 + lt
    xb0, xb1 = -w / 2 + 0.01 + lt, w / 2 - 0.01 - lt
    back = str(rng.choice(["solid", "slats", "ladder"]))
    if back == "solid":
        col = seat_col if rng.random() < 0.5 else frame
        p.box((xb0, seat_h + 0.12, zb0), (xb1, back_top - 0.02, zb1), col)
    elif back == "slats":
        p.box((xb0, back_top - 0.09, zb0), (xb1, back_top - 0.01, zb1), frame)
        n = int(rng.integers(2, 5))
        for i in range(n):
            x = xb0 + (i + 1) * (xb1 - xb0) / (n + 1)
            p.box((x - 0.012, seat_h + 0.02, zb0 + 0.005), (x + 0.012, back_top - 0.09, zb1 - 0.005), frame)
    else:
        n = int(rng.integers(2, 4))
        for i in range(n):
            y = back_top - 0.02 - i * (back_top - seat_h - 0.1) / n
            p.box((xb0, y - 0.05, zb0 + 0.003), (xb1, y, zb1 - 0.003), frame)
    if rng.random() < 0.2:  # arms
        for sx in (-1, 1):
            x = sx * (w / 2 - lt / 2 - 0.01)
            p.box((x - lt / 2, seat_h, d / 2 - 0.05 - lt), (x + lt / 2, seat_h + 0.22, d / 2 - 0.05), frame)
            p.box((x - 0.025, seat_h + 0.22, -d / 2 + 0.01), (x + 0.025, seat_h + 0.25, d / 2 - 0.02), frame)
    return p.build("chair", style="dining")


def bed(rng: np.random.Generator, double: bool | None = None) -> Furniture:
    """Frame, mattress, blanket, pillows and a headboard (against the wall at -z)."""
    double = bool(rng.random() < 0.65) if double is None else double
    w = rng.uniform(1.4, 1.8) if double else rng.uniform(0.95, 1.15)
    length = rng.uniform(1.95, 2.15)
    frame = c_furniture(rng)
    frame_h = rng.uniform(0.22, 0.38)
    mat_t = rng.uniform(0.18, 0.26)
    hb_t = rng.uniform(0.05, 0.1)
    hb_h = rng.uniform(0.85, 1.25)
    z0, z1 = -length / 2, length / 2
    p = Parts()
    legs = rng.random() < 0.4
    if legs:
        lh = min(0.12, frame_h - 0.1)
        for sx in (-1, 1):
            for z in (z0 + hb_t + 0.05, z1 - 0.05):
                x = sx * (w / 2 - 0.05)
                p.box((x - 0.03, 0, z - 0.03), (x + 0.03, lh, z + 0.03), frame)
        p.box((-w / 2, lh, z0 + hb_t), (w / 2, frame_h, z1), frame)
    else:
        p.box((-w / 2, 0, z0 + hb_t), (w / 2, frame_h, z1), frame)
    mat_col = c_white(rng)
    mtop = frame_h + mat_t
    p.box((-w / 2 + 0.02, frame_h, z0 + hb_t + 0.01), (w / 2 - 0.02, mtop, z1 - 0.02), mat_col)
    blanket = c_fabric(rng) if rng.random() < 0.5 else c_bright(rng)
    bz = z0 + hb_t + rng.uniform(0.5, 0.7)
    p.box((-w / 2 - 0.015, mtop - mat_t * 0.7, bz), (w / 2 + 0.015, mtop + 0.03, z1 - 0.005), blanket,
          skip=("-y",))
    if rng.random() < 0.6:  # turned-down sheet
        p.box((-w / 2 - 0.01, mtop - mat_t * 0.5, bz - 0.12), (w / 2 + 0.01, mtop + 0.035, bz + 0.06),
              c_scale(mat_col, 0.97) if rng.random() < 0.5 else c_scale(blanket, 1.25), skip=("-y",))
    pil_col = c_white(rng) if rng.random() < 0.6 else c_scale(blanket, 1.3)
    n_pil = 2 if double else 1
    pw = min(0.6, (w - 0.1) / n_pil - 0.04)
    for i in range(n_pil):
        cx = -w / 2 + (i + 0.5) * w / n_pil
        p.box((-pw / 2, 0.0, 0.0), (pw / 2, rng.uniform(0.1, 0.14), rng.uniform(0.32, 0.4)), pil_col,
              R=rot_x(-0.15), t=(cx, mtop - 0.01, z0 + hb_t + 0.06))
    style = str(rng.choice(["solid", "padded", "posts"]))
    hb_col = frame if rng.random() < 0.7 else c_fabric(rng)
    p.box((-w / 2 - 0.02, 0, z0), (w / 2 + 0.02, hb_h, z0 + hb_t), hb_col)
    if style == "padded":
        p.box((-w / 2 + 0.06, mtop + 0.02, z0 + hb_t), (w / 2 - 0.06, hb_h - 0.07, z0 + hb_t + 0.04), c_fabric(rng))
    elif style == "posts":
        for sx in (-1, 1):
            p.cyl(0.04, 0.04, 0.0, hb_h + 0.08, frame, seg=8, c=(sx * (w / 2 + 0.02), z0 + hb_t / 2))
    if rng.random() < 0.35:  # footboard
        fh = frame_h + rng.uniform(0.15, 0.3)
        p.box((-w / 2 - 0.02, 0, z1), (w / 2 + 0.02, fh, z1 + hb_t * 0.8), hb_col)
    return p.build("bed", visible=("front", "left", "right"), double=double)


def plant(rng: np.random.Generator, tall: bool | None = None) -> Furniture:
    """A pot with soil and foliage: a bush, a small tree, or a rosette of long leaves."""
    p = Parts()
    kind = str(rng.choice(["bush", "tree", "leaves"])) if tall is None else ("tree" if tall else "bush")
    pot_col = [c_hsv(rng.uniform(0.03, 0.07), rng.uniform(0.55, 0.75), rng.uniform(0.55, 0.75)),
               c_white(rng), c_dark(rng), c_bright(rng), c_metal(rng)][int(rng.integers(0, 5))]
    ph = rng.uniform(0.22, 0.45)
    pr = rng.uniform(0.12, 0.2)
    shape = rng.random()
    if shape < 0.6:
        p.cyl(pr * rng.uniform(0.65, 0.85), pr, 0.0, ph, pot_col, seg=12, caps="none")
        p.cyl(pr, pr + 0.015, ph - 0.04, ph, c_scale(pot_col, 0.9), seg=12, caps="none")
    elif shape < 0.85:
        p.cyl(pr, pr, 0.0, ph, pot_col, seg=12, caps="none")
    else:
        p.box((-pr, 0, -pr), (pr, ph, pr), pot_col, skip=("+y",))
    soil = c_hsv(0.07, rng.uniform(0.4, 0.6), rng.uniform(0.12, 0.22))
    p.cyl(pr * 0.97, pr * 0.97, ph - 0.05, ph - 0.03, soil, seg=12, caps="top")
    g = c_green(rng)
    top = ph - 0.03
    if kind == "bush":
        h = rng.uniform(0.3, 0.65)
        n = int(rng.integers(3, 6))
        spread = pr * rng.uniform(1.0, 1.6)
        p.blob((0, top + h * 0.45, 0), (spread, h * 0.45, spread), g, sub=1)
        for i in range(n):
            a = 2 * np.pi * (i + rng.random() * 0.5) / n
            r = spread * rng.uniform(0.5, 0.9)
            s = spread * rng.uniform(0.45, 0.7)
            p.blob((r * math.cos(a), top + h * rng.uniform(0.35, 0.8), r * math.sin(a)), (s, s * 0.9, s),
                   c_scale(g, rng.uniform(0.8, 1.2)), sub=0)
    elif kind == "tree":
        trunk_h = rng.uniform(0.5, 1.0)
        trunk = c_hsv(0.08, rng.uniform(0.3, 0.6), rng.uniform(0.2, 0.4))
        p.cyl(0.025, 0.018, top, top + trunk_h, trunk, seg=6, caps="none")
        crown = rng.uniform(0.25, 0.4)
        cy = top + trunk_h + crown * 0.6
        p.blob((0, cy, 0), (crown, crown * rng.uniform(0.9, 1.3), crown), g, sub=1)
        n = int(rng.integers(3, 6))
        for i in range(n):
            a = 2 * np.pi * (i + rng.random() * 0.5) / n
            r = crown * rng.uniform(0.5, 0.8)
            s = crown * rng.uniform(0.45, 0.65)
            p.blob((r * math.cos(a), cy + crown * rng.uniform(-0.5, 0.5), r * math.sin(a)), (s, s, s),
                   c_scale(g, rng.uniform(0.8, 1.2)), sub=0)
    else:
        n = int(rng.integers(7, 12))
        length = rng.uniform(0.4, 0.9)
        lw = rng.uniform(0.035, 0.08)
        for i in range(n):
            a = 2 * np.pi * i / n + rng.uniform(-0.2, 0.2)
            tilt = rng.uniform(0.08, 0.6)
            ln = length * rng.uniform(0.7, 1.1)
            R = rot_y(a) @ rot_x(tilt)
            p.box((-lw / 2, 0, -0.006), (lw / 2, ln, 0.006), c_scale(g, rng.uniform(0.75, 1.25)), R=R,
                  t=(0.3 * pr * math.sin(a), top - 0.01, 0.3 * pr * math.cos(a)), skip=("-y",))
    return p.build("plant", kind=kind)


def toilet(rng: np.random.Generator) -> Furniture:
    """White pedestal, bowl, seat and tank (tank against the wall at -z)."""
    p = Parts()
    white = c_white(rng)
    seat = white if rng.random() < 0.6 else [c_wood(rng), c_dark(rng), c_bright(rng)][int(rng.integers(0, 3))]
    tw = rng.uniform(0.36, 0.44)
    td = rng.uniform(0.15, 0.2)
    th = rng.uniform(0.3, 0.4)
    bowl_h = rng.uniform(0.38, 0.42)
    brx, brz = rng.uniform(0.17, 0.2), rng.uniform(0.22, 0.26)
    bz = -0.02 + td + brz - 0.06  # bowl centre
    p.cyl(0.11, 0.14, 0.0, bowl_h - 0.12, white, seg=10, c=(0, bz - 0.03), scale=(1.0, 1.35), caps="none")
    p.cyl(0.7, 1.0, bowl_h - 0.14, bowl_h, white, seg=12, c=(0, bz), scale=(brx, brz), caps="top")
    p.cyl(1.02, 1.02, bowl_h, bowl_h + 0.025, seat, seg=12, c=(0, bz + 0.005), scale=(brx, brz), caps="both")
    p.box((-tw / 2 + 0.06, 0.0, -0.02), (tw / 2 - 0.06, bowl_h, td), white)  # back block
    ty0 = bowl_h + 0.01
    p.box((-tw / 2, ty0, -0.02), (tw / 2, ty0 + th, td), white)
    p.box((-tw / 2 - 0.01, ty0 + th, -0.03), (tw / 2 + 0.01, ty0 + th + 0.025, td + 0.01), c_scale(white, 0.97))
    p.cyl(0.022, 0.022, ty0 + th + 0.025, ty0 + th + 0.035, c_metal(rng), seg=8, c=(0, td / 2), caps="top")
    if rng.random() < 0.35:  # raised lid leaning on the tank
        p.box((-brx * 0.9, bowl_h + 0.03, td + 0.005), (brx * 0.9, bowl_h + 0.03 + 2 * brz * 0.85, td + 0.025),
              seat)
    return p.build("toilet", visible=("front", "left", "right"))


def tv_monitor(rng: np.random.Generator, width: float | None = None, monitor: bool = False) -> Furniture:
    """A dark screen with a bezel on a small stand (the cabinet under it is a separate object)."""
    p = Parts()
    w = width if width is not None else (rng.uniform(0.5, 0.7) if monitor else rng.uniform(0.8, 1.4))
    h = w * rng.uniform(0.52, 0.62)
    pt = rng.uniform(0.03, 0.06)
    bez = rng.uniform(0.012, 0.03) * (1.0 if monitor else 1.4)
    frame = [c_dark(rng), c_hsv(0, 0, rng.uniform(0.04, 0.1)), c_metal(rng)][int(rng.integers(0, 3))]
    screen = c_hsv(rng.uniform(0.55, 0.7), rng.uniform(0.2, 0.5), rng.uniform(0.07, 0.16))
    lift = rng.uniform(0.06, 0.14) if not monitor else rng.uniform(0.1, 0.2)
    foot_d = rng.uniform(0.16, 0.24)
    zc = 0.0
    if rng.random() < 0.6:  # central pedestal
        fw = min(w * 0.45, rng.uniform(0.2, 0.4))
        p.box((-fw / 2, 0, zc - foot_d / 2), (fw / 2, 0.015, zc + foot_d / 2), frame)
        p.box((-0.03, 0.015, zc - pt / 2 - 0.02), (0.03, lift + h * 0.35, zc - pt / 2), frame)
    else:  # two feet
        for sx in (-1, 1):
            x = sx * w * 0.38
            p.box((x - 0.025, 0, zc - foot_d / 2), (x + 0.025, 0.015, zc + foot_d / 2), frame)
            p.box((x - 0.015, 0.015, zc - 0.015), (x + 0.015, lift + 0.03, zc + 0.015), frame)
    p.box((-w / 2, lift, zc - pt / 2), (w / 2, lift + h, zc + pt / 2), frame)
    p.box((-w / 2 + bez, lift + bez, zc + pt / 2), (w / 2 - bez, lift + h - bez, zc + pt / 2 + 0.004), screen,
          skip=("-z",))
    return p.build("tv_monitor", visible=("front",), monitor=monitor)


def sofa(rng: np.random.Generator, seats: int | None = None) -> Furniture:
    """Base, seat cushions, back, arms (rolled or square), legs and throw pillows."""
    p = Parts()
    n = int(rng.integers(2, 4)) if seats is None else seats
    arm_w = rng.uniform(0.1, 0.22)
    cw = rng.uniform(0.55, 0.7)
    w = n * cw + 2 * arm_w
    d = rng.uniform(0.82, 0.98)
    seat_h = rng.uniform(0.42, 0.47)
    back_h = rng.uniform(0.75, 0.92)
    arm_h = rng.uniform(0.55, 0.66)
    back_t = rng.uniform(0.16, 0.24)
    fab = c_fabric(rng)
    leg_col = c_wood(rng) if rng.random() < 0.6 else c_dark(rng)
    lh = rng.uniform(0.05, 0.13) if rng.random() < 0.7 else 0.0
    cush_t = rng.uniform(0.11, 0.15)
    if lh > 0:
        for sx in (-1, 1):
            for sz in (-1, 1):
                x, z = sx * (w / 2 - 0.06), sz * (d / 2 - 0.06)
                p.box((x - 0.025, 0, z - 0.025), (x + 0.025, lh, z + 0.025), leg_col)
    base_top = seat_h - cush_t
    p.box((-w / 2 + arm_w, lh, -d / 2 + back_t), (w / 2 - arm_w, base_top, d / 2), fab)
    cush = c_scale(fab, rng.uniform(0.95, 1.12))
    x0 = -w / 2 + arm_w
    for i in range(n):
        p.box((x0 + i * cw + 0.006, base_top, -d / 2 + back_t), (x0 + (i + 1) * cw - 0.006, seat_h, d / 2 - 0.005),
              cush)
    p.box((-w / 2 + arm_w, lh, -d / 2), (w / 2 - arm_w, back_h, -d / 2 + back_t), fab)
    if rng.random() < 0.5:  # back cushions leaning on the back
        bc_h = back_h - seat_h - 0.02
        for i in range(n):
            p.box((0.006, 0, 0), (cw - 0.006, bc_h, 0.12), cush, R=rot_x(-0.12),
                  t=(x0 + i * cw, seat_h, -d / 2 + back_t - 0.02))
    rolled = rng.random() < 0.4
    for sx in (-1, 1):
        xa, xb = sorted((sx * w / 2, sx * (w / 2 - arm_w)))
        if rolled:
            r = arm_w / 2 + 0.01
            p.box((xa, lh, -d / 2), (xb, arm_h - r, d / 2), fab)
            p.cyl(r, r, -d / 2, d / 2, c_scale(fab, 0.97), seg=10, c=((xa + xb) / 2, -(arm_h - r)),
                  R=rot_x(np.pi / 2))
        else:
            p.box((xa, lh, -d / 2), (xb, arm_h, d / 2), fab)
    if rng.random() < 0.7:  # throw pillows
        pc = c_bright(rng)
        for sx in (-1, 1):
            if rng.random() < 0.8:
                x = sx * (w / 2 - arm_w - 0.25)
                p.box((-0.19, 0, -0.06), (0.19, 0.36, 0.06), pc, R=rot_y(sx * 0.3) @ rot_x(-0.25),
                      t=(x, seat_h - 0.02, -d / 2 + back_t + 0.12))
    return p.build("sofa", visible=("front", "left", "right"), seats=n)


# ----------------------------------------------------------------------------- distractors


def table(rng: np.random.Generator, kind: str = "dining", size: tuple[float, float] | None = None) -> Furniture:
    """Dining (rectangular or round), coffee table or desk."""
    p = Parts()
    wood = c_furniture(rng)
    top_col = wood if rng.random() < 0.7 else (c_white(rng) if rng.random() < 0.5 else c_wood(rng))
    h = {"dining": rng.uniform(0.72, 0.78), "desk": rng.uniform(0.72, 0.78), "coffee": rng.uniform(0.36, 0.46),
         "side": rng.uniform(0.5, 0.62)}[kind]
    tt = rng.uniform(0.025, 0.05)
    if size is not None:
        w, d = size
    elif kind == "dining":
        w, d = rng.uniform(1.1, 1.9), rng.uniform(0.75, 1.0)
    elif kind == "desk":
        w, d = rng.uniform(1.0, 1.6), rng.uniform(0.55, 0.75)
    elif kind == "coffee":
        w, d = rng.uniform(0.8, 1.3), rng.uniform(0.45, 0.65)
    else:
        w = d = rng.uniform(0.4, 0.55)
    round_top = kind in ("dining", "coffee", "side") and size is None and rng.random() < 0.25
    if round_top:
        r = min(w, d) / 2 if kind != "dining" else rng.uniform(0.45, 0.6)
        p.cyl(r, r, h - tt, h, top_col, seg=16)
        p.cyl(0.04, 0.04, 0.02, h - tt, wood, seg=8, caps="none")
        p.cyl(r * 0.45, r * 0.4, 0.0, 0.03, wood, seg=12)
        return p.build("table", kind=kind)
    p.box((-w / 2, h - tt, -d / 2), (w / 2, h, d / 2), top_col)
    lt = rng.uniform(0.035, 0.06)
    legs = str(rng.choice(["square", "round", "panel"] if kind == "desk" else ["square", "round"]))
    inset = rng.uniform(0.02, 0.08)
    if legs == "panel":
        for sx in (-1, 1):
            x = sx * (w / 2 - 0.03)
            p.box((x - 0.02, 0, -d / 2 + 0.03), (x + 0.02, h - tt, d / 2 - 0.03), wood)
        p.box((-w / 2 + 0.05, h * 0.35, -d / 2 + 0.04), (w / 2 - 0.05, h - tt, -d / 2 + 0.06), wood)
    else:
        for sx in (-1, 1):
            for sz in (-1, 1):
                x, z = sx * (w / 2 - inset - lt / 2), sz * (d / 2 - inset - lt / 2)
                if legs == "round":
                    p.cyl(lt / 2, lt / 2 * 0.8, 0.0, h - tt, wood, seg=8, c=(x, z), caps="none")
                else:
                    p.box((x - lt / 2, 0, z - lt / 2), (x + lt / 2, h - tt, z + lt / 2), wood)
        if kind != "coffee" and rng.random() < 0.6:  # apron
            at = 0.08
            p.box((-w / 2 + inset, h - tt - at, -d / 2 + inset), (w / 2 - inset, h - tt, -d / 2 + inset + 0.02), wood)
            p.box((-w / 2 + inset, h - tt - at, d / 2 - inset - 0.02), (w / 2 - inset, h - tt, d / 2 - inset), wood)
    if kind == "coffee" and rng.random() < 0.5:  # lower shelf
        p.box((-w / 2 + inset + lt, 0.08, -d / 2 + inset + lt), (w / 2 - inset - lt, 0.1, d / 2 - inset - lt), top_col)
    if kind == "desk" and legs != "panel" and rng.random() < 0.5:  # drawer unit
        dw = 0.4
        x0 = w / 2 - inset - lt - dw
        p.box((x0, h - tt - 0.16, -d / 2 + 0.05), (x0 + dw, h - tt, d / 2 - 0.04), wood)
        p.box((x0 + 0.03, h - tt - 0.13, d / 2 - 0.04), (x0 + dw - 0.03, h - tt - 0.03, d / 2 - 0.025),
              c_scale(wood, 1.15), skip=("-z",))
    return p.build("table", kind=kind)


def _drawer_fronts(p: Parts, rng, x0, x1, y0, y1, z, col, rows: int, cols: int, handle: Color) -> None:
    gap = 0.012
    for i in range(cols):
        for j in range(rows):
            a0 = x0 + i * (x1 - x0) / cols + gap
            a1 = x0 + (i + 1) * (x1 - x0) / cols - gap
            b0 = y0 + j * (y1 - y0) / rows + gap
            b1 = y0 + (j + 1) * (y1 - y0) / rows - gap
            p.box((a0, b0, z), (a1, b1, z + 0.015), col, skip=("-z",))
            cx, cy = (a0 + a1) / 2, (b0 + b1) / 2
            if rows > 1 or cols == 1:
                p.box((cx - 0.05, cy - 0.008, z + 0.015), (cx + 0.05, cy + 0.008, z + 0.03), handle, skip=("-z",))
            else:  # doors: vertical handle near the inner edge
                hx = a1 - 0.04 if i % 2 == 0 else a0 + 0.04
                p.box((hx - 0.008, cy - 0.06, z + 0.015), (hx + 0.008, cy + 0.06, z + 0.03), handle, skip=("-z",))


def cabinet(rng: np.random.Generator, kind: str = "nightstand", width: float | None = None) -> Furniture:
    """Nightstand, sideboard, dresser or tv stand: a body with drawers or doors (fronts at +z)."""
    p = Parts()
    w = width if width is not None else {"nightstand": rng.uniform(0.4, 0.55), "sideboard": rng.uniform(1.0, 1.8),
                                         "dresser": rng.uniform(0.8, 1.3), "tv_stand": rng.uniform(1.2, 1.9)}[kind]
    d = {"nightstand": rng.uniform(0.35, 0.45), "sideboard": rng.uniform(0.4, 0.5), "dresser": rng.uniform(0.45, 0.55),
         "tv_stand": rng.uniform(0.38, 0.48)}[kind]
    h = {"nightstand": rng.uniform(0.45, 0.6), "sideboard": rng.uniform(0.75, 0.9), "dresser": rng.uniform(0.8, 1.1),
         "tv_stand": rng.uniform(0.4, 0.58)}[kind]
    body = c_furniture(rng)
    front = body if rng.random() < 0.5 else c_scale(body, rng.uniform(0.8, 1.2))
    handle = c_metal(rng) if rng.random() < 0.6 else c_dark(rng)
    lh = rng.uniform(0.06, 0.14) if rng.random() < 0.5 else 0.0
    if lh > 0:
        for sx in (-1, 1):
            for sz in (-1, 1):
                x, z = sx * (w / 2 - 0.04), sz * (d / 2 - 0.04)
                p.box((x - 0.02, 0, z - 0.02), (x + 0.02, lh, z + 0.02), c_scale(body, 0.8))
    p.box((-w / 2, lh, -d / 2), (w / 2, h - 0.025, d / 2 - 0.015), body)
    p.box((-w / 2 - 0.01, h - 0.025, -d / 2), (w / 2 + 0.01, h, d / 2 + 0.005), c_scale(body, 0.92))
    inner = (-w / 2 + 0.02, w / 2 - 0.02, lh + 0.02, h - 0.04)
    if kind == "nightstand":
        rows, cols = int(rng.integers(1, 3)), 1
    elif kind == "dresser":
        rows, cols = int(rng.integers(3, 5)), int(rng.integers(1, 3))
    else:
        rows, cols = 1, max(2, int(round(w / 0.5)))
    _drawer_fronts(p, rng, *inner, d / 2 - 0.015, front, rows, cols, handle)
    return p.build("cabinet" if kind != "tv_stand" else "tv_stand", visible=("front",), kind=kind)


def shelf(rng: np.random.Generator) -> Furniture:
    """A bookshelf with coloured books and the odd ornament (open side +z)."""
    p = Parts()
    w = rng.uniform(0.6, 1.2)
    d = rng.uniform(0.28, 0.38)
    h = rng.uniform(1.2, 2.0)
    t = rng.uniform(0.018, 0.03)
    body = c_furniture(rng)
    levels = max(2, int(h / rng.uniform(0.32, 0.42)))
    p.box((-w / 2, 0, -d / 2), (-w / 2 + t, h, d / 2), body)
    p.box((w / 2 - t, 0, -d / 2), (w / 2, h, d / 2), body)
    p.box((-w / 2 + t, h - t, -d / 2), (w / 2 - t, h, d / 2), body, skip=("+x", "-x"))
    p.box((-w / 2 + t, 0, -d / 2), (w / 2 - t, 0.07, d / 2), body, skip=("+x", "-x"))
    p.box((-w / 2 + t, 0.07, -d / 2), (w / 2 - t, h - t, -d / 2 + 0.01), c_scale(body, 0.85),
          skip=("+x", "-x", "+y", "-y", "-z"))
    pitch = (h - t - 0.07) / levels
    for i in range(levels):
        y = 0.07 + i * pitch
        if i > 0:
            p.box((-w / 2 + t, y - t, -d / 2 + 0.01), (w / 2 - t, y, d / 2), body, skip=("+x", "-x"))
        x = -w / 2 + t + rng.uniform(0.0, 0.1)
        xmax = w / 2 - t - 0.01
        fill = rng.uniform(0.5, 1.0)
        n_books = 0
        prev_gap = True
        while x < -w / 2 + t + fill * (w - 2 * t) and n_books < 12:
            bw = rng.uniform(0.02, 0.055)
            bh = min(pitch - t - 0.03, rng.uniform(0.16, 0.3))
            bd = min(d - 0.04, rng.uniform(0.14, 0.24))
            if x + bw > xmax:
                break
            gap = 0.0 if rng.random() < 0.85 else rng.uniform(0.02, 0.08)
            # books standing side by side hide each other's sides: draw sides only at the ends of a run
            skip = ("-y", "-z") + (() if prev_gap else ("-x",)) + (("+x",) if gap == 0.0 else ())
            p.box((x, y, d / 2 - 0.02 - bd), (x + bw, y + bh, d / 2 - 0.02), c_bright(rng) if rng.random() < 0.7
                  else c_dark(rng), skip=skip)
            x += bw + gap
            prev_gap = gap > 0.0
            n_books += 1
        if rng.random() < 0.3 and xmax - x > 0.12:  # ornament: vase or box
            cx = (x + xmax) / 2
            if rng.random() < 0.5:
                p.cyl(0.04, 0.03, y, y + min(pitch - t - 0.04, 0.18), c_bright(rng), seg=8, c=(cx, 0.0), caps="top")
            else:
                p.box((cx - 0.05, y, -0.06), (cx + 0.05, y + 0.08, 0.06), c_furniture(rng), skip=("-y",))
    return p.build("shelf", visible=("front",))


def lamp(rng: np.random.Generator) -> Furniture:
    """A floor lamp: base, pole and shade."""
    p = Parts()
    metal = c_metal(rng) if rng.random() < 0.5 else (c_dark(rng) if rng.random() < 0.5 else c_wood(rng))
    h = rng.uniform(1.3, 1.75)
    br = rng.uniform(0.11, 0.16)
    p.cyl(br, br * 0.9, 0.0, 0.025, metal, seg=10)
    p.cyl(0.013, 0.013, 0.025, h - 0.2, metal, seg=6, caps="none")
    sr0, sr1 = rng.uniform(0.17, 0.25), rng.uniform(0.1, 0.17)
    sh = rng.uniform(0.22, 0.34)
    shade_col = c_hsv(rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.35), rng.uniform(0.8, 0.97)) \
        if rng.random() < 0.75 else c_bright(rng)
    p.cyl(sr0, sr1, h - sh, h, shade_col, seg=12, caps="both")
    return p.build("lamp")


def counter(rng: np.random.Generator, length: float | None = None, sink: bool | None = None,
            stove: bool | None = None) -> Furniture:
    """Kitchen base cabinets with a worktop, door fronts, maybe a sink and a cooktop (front +z)."""
    p = Parts()
    w = length if length is not None else rng.uniform(1.2, 2.6)
    d = rng.uniform(0.58, 0.65)
    h = rng.uniform(0.88, 0.93)
    body = c_furniture(rng)
    top = [c_hsv(rng.random(), rng.uniform(0, 0.1), rng.uniform(0.15, 0.9)), c_wood(rng)][int(rng.random() < 0.3)]
    handle = c_metal(rng)
    kick = 0.1
    p.box((-w / 2, 0, -d / 2), (w / 2, kick, d / 2 - 0.06), c_scale(body, 0.5))
    p.box((-w / 2, kick, -d / 2), (w / 2, h - 0.04, d / 2 - 0.02), body)
    p.box((-w / 2, h - 0.04, -d / 2), (w / 2, h, d / 2 + 0.02), top)
    n = max(2, int(round(w / 0.5)))
    _drawer_fronts(p, rng, -w / 2 + 0.005, w / 2 - 0.005, kick + 0.01, h - 0.05, d / 2 - 0.02, body, 1, n, handle)
    sink = bool(rng.random() < 0.6) if sink is None else sink
    stove = bool(rng.random() < 0.6) if stove is None else stove
    if sink and w > 1.0:
        sx = -w / 4
        p.box((sx - 0.25, h, -0.18), (sx + 0.25, h + 0.004, 0.2), c_metal(rng), skip=("-y",))
        p.box((sx - 0.21, h + 0.004, -0.14), (sx + 0.21, h + 0.008, 0.16), c_scale(c_metal(rng), 0.6),
              skip=("-y", "+x", "-x", "+z", "-z"))
        p.cyl(0.015, 0.015, h, h + 0.3, handle, seg=6, c=(sx, -d / 2 + 0.06), caps="none")
        p.box((sx - 0.012, h + 0.27, -d / 2 + 0.05), (sx + 0.012, h + 0.3, -d / 2 + 0.22), handle)
    if stove and w > 1.4:
        sx = w / 4
        p.box((sx - 0.3, h, -0.25), (sx + 0.3, h + 0.01, 0.25), c_hsv(0, 0, 0.06), skip=("-y",))
        for bx in (-0.14, 0.14):
            for bz in (-0.12, 0.12):
                p.cyl(0.08, 0.08, h + 0.01, h + 0.013, c_hsv(0, 0, 0.25), seg=10, c=(sx + bx, bz), caps="top",
                      side=False)
    return p.build("counter", visible=("front",), length=w)


def refrigerator(rng: np.random.Generator) -> Furniture:
    p = Parts()
    w, d, h = rng.uniform(0.6, 0.9), rng.uniform(0.62, 0.72), rng.uniform(1.7, 1.95)
    kind = int(rng.integers(0, 3))
    col = [c_white, c_metal, c_dark][kind](rng)
    p.box((-w / 2, 0, -d / 2), (w / 2, h, d / 2 - 0.04), col)
    split = h * rng.uniform(0.3, 0.4)
    handle = c_dark(rng) if kind == 1 else c_metal(rng)
    for y0, y1 in ((0.02, split - 0.01), (split + 0.01, h - 0.01)):
        p.box((-w / 2 + 0.005, y0, d / 2 - 0.04), (w / 2 - 0.005, y1, d / 2), c_scale(col, 0.98), skip=("-z",))
        hy = (y0 + y1) / 2 if y0 < 0.1 else y0 + 0.25
        p.box((w / 2 - 0.07, hy - 0.15, d / 2), (w / 2 - 0.05, hy + 0.15, d / 2 + 0.04), handle, skip=("-z",))
    return p.build("refrigerator", visible=("front",))


def sink(rng: np.random.Generator) -> Furniture:
    """A bathroom vanity (cabinet with basin) or pedestal sink, often with a mirror above (back at -z)."""
    p = Parts()
    white = c_white(rng)
    metal = c_metal(rng)
    if rng.random() < 0.6:
        w, d, h = rng.uniform(0.5, 0.9), rng.uniform(0.42, 0.52), rng.uniform(0.8, 0.88)
        body = c_furniture(rng)
        p.box((-w / 2, 0.0, -d / 2), (w / 2, h - 0.03, d / 2 - 0.015), body)
        _drawer_fronts(p, rng, -w / 2 + 0.01, w / 2 - 0.01, 0.1, h - 0.05, d / 2 - 0.015, c_scale(body, 1.05), 1,
                       2 if w > 0.6 else 1, metal)
        p.box((-w / 2 - 0.01, h - 0.03, -d / 2), (w / 2 + 0.01, h, d / 2 + 0.01), white)
        p.cyl(0.9, 0.9, h, h + 0.002, c_hsv(0.55, 0.04, 0.72), seg=12, c=(0, 0.03), scale=(w * 0.3, d * 0.3),
              caps="top")
    else:
        w, d, h = rng.uniform(0.5, 0.65), rng.uniform(0.4, 0.48), rng.uniform(0.8, 0.88)
        p.cyl(0.09, 0.07, 0.0, h - 0.15, white, seg=10, c=(0, -d / 2 + 0.12), caps="none")
        p.box((-w / 2, h - 0.15, -d / 2), (w / 2, h, d / 2), white)
        p.cyl(0.9, 0.9, h, h + 0.002, c_hsv(0.55, 0.04, 0.75), seg=12, c=(0, 0.03), scale=(w * 0.35, d * 0.3),
              caps="top")
    p.cyl(0.015, 0.015, h, h + 0.2, metal, seg=6, c=(0, -d / 2 + 0.05), caps="none")
    p.box((-0.012, h + 0.17, -d / 2 + 0.04), (0.012, h + 0.2, -d / 2 + 0.15), metal)
    if rng.random() < 0.65:
        mw = min(w, rng.uniform(0.45, 0.8))
        y0 = h + rng.uniform(0.3, 0.4)
        mh = rng.uniform(0.5, 0.8)
        p.box((-mw / 2, y0, -d / 2), (mw / 2, y0 + mh, -d / 2 + 0.02), c_furniture(rng), skip=("-z",))
        p.box((-mw / 2 + 0.03, y0 + 0.03, -d / 2 + 0.02), (mw / 2 - 0.03, y0 + mh - 0.03, -d / 2 + 0.025),
              c_hsv(0.55, rng.uniform(0.05, 0.2), rng.uniform(0.75, 0.9)), skip=("-z",))
    return p.build("sink", visible=("front",))


def bathtub(rng: np.random.Generator) -> Furniture:
    """A rectangular tub: rim walls, a bottom and a faucet (long side along x, back at -z)."""
    p = Parts()
    w, d, h = rng.uniform(1.5, 1.75), rng.uniform(0.7, 0.8), rng.uniform(0.5, 0.6)
    white = c_white(rng)
    inner = c_hsv(rng.uniform(0.5, 0.6), rng.uniform(0.02, 0.12), rng.uniform(0.82, 0.92))
    t = rng.uniform(0.07, 0.1)
    p.box((-w / 2, 0, -d / 2), (w / 2, h, -d / 2 + t), white)
    p.box((-w / 2, 0, d / 2 - t), (w / 2, h, d / 2), white)
    p.box((-w / 2, 0, -d / 2 + t), (-w / 2 + t, h, d / 2 - t), white, skip=("+z", "-z"))
    p.box((w / 2 - t, 0, -d / 2 + t), (w / 2, h, d / 2 - t), white, skip=("+z", "-z"))
    p.box((-w / 2 + t, 0, -d / 2 + t), (w / 2 - t, 0.12, d / 2 - t), inner, skip=("+x", "-x", "+z", "-z"))
    metal = c_metal(rng)
    p.cyl(0.018, 0.018, h, h + 0.12, metal, seg=6, c=(-w / 2 + t / 2, 0.0), caps="none")
    p.box((-w / 2 + t / 2 - 0.012, h + 0.1, -0.012), (-w / 2 + t + 0.1, h + 0.125, 0.012), metal)
    return p.build("bathtub", visible=("front", "left", "right"))


def wardrobe(rng: np.random.Generator) -> Furniture:
    p = Parts()
    w, d, h = rng.uniform(0.9, 1.7), rng.uniform(0.55, 0.62), rng.uniform(1.85, 2.2)
    body = c_furniture(rng)
    front = c_scale(body, rng.uniform(0.9, 1.12))
    p.box((-w / 2, 0, -d / 2), (w / 2, 0.08, d / 2 - 0.03), c_scale(body, 0.7))
    p.box((-w / 2, 0.08, -d / 2), (w / 2, h - 0.04, d / 2 - 0.02), body)
    p.box((-w / 2 - 0.015, h - 0.04, -d / 2), (w / 2 + 0.015, h, d / 2 + 0.01), c_scale(body, 0.9))
    n = max(2, int(round(w / 0.5)))
    _drawer_fronts(p, rng, -w / 2 + 0.005, w / 2 - 0.005, 0.09, h - 0.05, d / 2 - 0.02, front, 1, n, c_metal(rng))
    return p.build("wardrobe", visible=("front",))


def rug(rng: np.random.Generator, size: tuple[float, float] | None = None) -> Furniture:
    """A flat rectangular rug (< 1 cm) with a border or stripes."""
    p = Parts()
    w, d = size if size is not None else (rng.uniform(1.2, 2.4), rng.uniform(0.8, 1.7))
    th = rng.uniform(0.004, 0.007)
    c1, c2 = c_bright(rng), c_fabric(rng)
    if rng.random() < 0.5:
        b = rng.uniform(0.06, 0.15)
        p.box((-w / 2, 0, -d / 2), (w / 2, th, d / 2), c1)
        p.box((-w / 2 + b, th, -d / 2 + b), (w / 2 - b, th + 0.002, d / 2 - b), c2, skip=("-y",))
    else:
        n = int(rng.integers(3, 8)) | 1
        for i in range(n):
            z0, z1 = -d / 2 + i * d / n, -d / 2 + (i + 1) * d / n
            p.box((-w / 2, 0, z0), (w / 2, th, z1), c1 if i % 2 == 0 else c2,
                  skip=tuple(s for s, cond in (("-z", i > 0), ("+z", i < n - 1)) if cond))
    return p.build("rug")


#: Builders by category name (every one takes ``rng`` first).
BUILDERS: dict[str, Callable[..., Furniture]] = {
    "chair": chair, "bed": bed, "plant": plant, "toilet": toilet, "tv_monitor": tv_monitor, "sofa": sofa,
    "table": table, "cabinet": cabinet, "shelf": shelf, "lamp": lamp, "counter": counter, "sink": sink,
    "bathtub": bathtub, "wardrobe": wardrobe, "rug": rug, "refrigerator": refrigerator,
    "tv_stand": lambda rng, **kw: cabinet(rng, kind="tv_stand", **kw),
}

"""Structural meshes in house-local metres: per room textured floor, walls (with lintels over doorways)
and ceiling quads, doorway frames and trim (skirting, windows, pictures, a ceiling light) built from
furniture parts."""

from __future__ import annotations

import numpy as np

from v4s.envs.scenes import furniture
from v4s.envs.scenes.procedural.layout import UNIT, Door, HouseLayout, Rect
from v4s.envs.scenes.procedural.placement import Placed

# wall k of a room: 0 = low-z wall, 1 = low-x, 2 = high-z, 3 = high-x (as in placement)


def _wall_intervals(layout: HouseLayout, i: int, k: int) -> tuple[float, float, float, list[tuple[float, float, Door]]]:
    """Wall k of room i: (face coordinate, along-start, along-end, doorways [(lo, hi, door)]) in metres."""
    r = layout.rooms_u[i]
    if k == 0:
        face, coord, axis, a0, a1 = (r.z0 + 1) * UNIT, r.z0, "z", r.x0 + 1, r.x1 - 1
    elif k == 2:
        face, coord, axis, a0, a1 = (r.z1 - 1) * UNIT, r.z1, "z", r.x0 + 1, r.x1 - 1
    elif k == 1:
        face, coord, axis, a0, a1 = (r.x0 + 1) * UNIT, r.x0, "x", r.z0 + 1, r.z1 - 1
    else:
        face, coord, axis, a0, a1 = (r.x1 - 1) * UNIT, r.x1, "x", r.z0 + 1, r.z1 - 1
    gaps = sorted(((d.lo * UNIT, d.hi * UNIT, d) for d in layout.doors
                   if d.axis == axis and d.coord == coord and i in d.rooms), key=lambda g: g[0])
    return face, a0 * UNIT, a1 * UNIT, gaps


def _wall_point(k: int, face: float, a: float, y: float) -> list[float]:
    return [a, y, face] if k % 2 == 0 else [face, y, a]


_WALL_NORMALS = {0: (0.0, 0.0, 1.0), 1: (1.0, 0.0, 0.0), 2: (0.0, 0.0, -1.0), 3: (-1.0, 0.0, 0.0)}


class _TexMesh:
    """Quads with UVs for one textured structural mesh."""

    def __init__(self) -> None:
        self.v: list[np.ndarray] = []
        self.n: list[np.ndarray] = []
        self.uv: list[np.ndarray] = []
        self.f: list[np.ndarray] = []
        self.count = 0

    def quad(self, corners, normal, uv) -> None:
        v = np.asarray(corners, dtype=np.float64)
        tris = np.array([[0, 1, 2], [0, 2, 3]])
        if np.dot(np.cross(v[1] - v[0], v[2] - v[0]), normal) < 0:
            tris = tris[:, ::-1]
        self.v.append(v)
        self.n.append(np.broadcast_to(np.asarray(normal, dtype=np.float64), (4, 3)))
        self.uv.append(np.asarray(uv, dtype=np.float64))
        self.f.append(tris + self.count)
        self.count += 4

    def arrays(self):
        return np.concatenate(self.v), np.concatenate(self.n), np.concatenate(self.f), np.concatenate(self.uv)


def room_walls(layout: HouseLayout, i: int, tile: float) -> _TexMesh:
    m = _TexMesh()
    H = layout.ceiling
    for k in range(4):
        face, a0, a1, gaps = _wall_intervals(layout, i, k)
        nrm = _WALL_NORMALS[k]
        solid = []
        cur = a0
        for lo, hi, d in gaps:
            solid.append((cur, lo, 0.0, H))
            solid.append((lo, hi, d.height, H))  # lintel
            cur = hi
        solid.append((cur, a1, 0.0, H))
        for s0, s1, y0, y1 in solid:
            if s1 - s0 < 1e-6 or y1 - y0 < 1e-6:
                continue
            corners = [_wall_point(k, face, s0, y0), _wall_point(k, face, s1, y0), _wall_point(k, face, s1, y1),
                       _wall_point(k, face, s0, y1)]
            sgn = 1.0 if k in (0, 3) else -1.0  # u runs left to right seen from inside
            uv = [[sgn * s0 / tile, y0 / tile], [sgn * s1 / tile, y0 / tile], [sgn * s1 / tile, y1 / tile],
                  [sgn * s0 / tile, y1 / tile]]
            m.quad(corners, nrm, uv)
    return m


def flat_quad(rect: Rect, y: float, up: bool, tile: float) -> _TexMesh:
    m = _TexMesh()
    c = [[rect.x0, y, rect.z0], [rect.x1, y, rect.z0], [rect.x1, y, rect.z1], [rect.x0, y, rect.z1]]
    uv = [[x / tile, -z / tile] for x, _, z in c]
    m.quad(c, (0.0, 1.0 if up else -1.0, 0.0), uv)
    return m


def doorway_parts(layout: HouseLayout, d: Door, trim: furniture.Color, sill: furniture.Color,
                  arch_w: float) -> furniture.Parts:
    p = furniture.Parts()
    t = d.rect()
    h = d.height
    if d.axis == "x":
        x0, x1 = t.x0, t.x1
        p.quad([[x0, 0, t.z0], [x1, 0, t.z0], [x1, h, t.z0], [x0, h, t.z0]], (0, 0, 1), trim)
        p.quad([[x0, 0, t.z1], [x1, 0, t.z1], [x1, h, t.z1], [x0, h, t.z1]], (0, 0, -1), trim)
        p.quad([[x0, h, t.z0], [x1, h, t.z0], [x1, h, t.z1], [x0, h, t.z1]], (0, -1, 0), trim)
        p.quad([[x0, 0, t.z0], [x1, 0, t.z0], [x1, 0, t.z1], [x0, 0, t.z1]], (0, 1, 0), sill)
        for xf, sgn in ((x0, -1.0), (x1, 1.0)):  # architraves on both faces
            xo = xf + sgn * 0.015
            a, b = sorted((xf, xo))
            skip = ("+x",) if sgn < 0 else ("-x",)
            p.box((a, 0, t.z0 - arch_w), (b, h + arch_w, t.z0), trim, skip=skip)
            p.box((a, 0, t.z1), (b, h + arch_w, t.z1 + arch_w), trim, skip=skip)
            p.box((a, h, t.z0), (b, h + arch_w, t.z1), trim, skip=skip + ("-y", "+z", "-z"))
    else:
        z0, z1 = t.z0, t.z1
        p.quad([[t.x0, 0, z0], [t.x0, 0, z1], [t.x0, h, z1], [t.x0, h, z0]], (1, 0, 0), trim)
        p.quad([[t.x1, 0, z0], [t.x1, 0, z1], [t.x1, h, z1], [t.x1, h, z0]], (-1, 0, 0), trim)
        p.quad([[t.x0, h, z0], [t.x1, h, z0], [t.x1, h, z1], [t.x0, h, z1]], (0, -1, 0), trim)
        p.quad([[t.x0, 0, z0], [t.x1, 0, z0], [t.x1, 0, z1], [t.x0, 0, z1]], (0, 1, 0), sill)
        for zf, sgn in ((z0, -1.0), (z1, 1.0)):
            zo = zf + sgn * 0.015
            a, b = sorted((zf, zo))
            skip = ("+z",) if sgn < 0 else ("-z",)
            p.box((t.x0 - arch_w, 0, a), (t.x0, h + arch_w, b), trim, skip=skip)
            p.box((t.x1, 0, a), (t.x1 + arch_w, h + arch_w, b), trim, skip=skip)
            p.box((t.x0, h, a), (t.x1, h + arch_w, b), trim, skip=skip + ("-y", "+x", "-x"))
    return p


def _wall_box(p: furniture.Parts, k: int, face: float, a0: float, a1: float, y0: float, y1: float, depth: float,
              color: furniture.Color, back: bool = False) -> None:
    """A box on wall k's face spanning [a0, a1] x [y0, y1], sticking out ``depth`` into the room."""
    inward = 1.0 if k in (0, 1) else -1.0
    f0, f1 = sorted((face, face + inward * depth))
    if k % 2 == 0:
        lo, hi = (a0, y0, f0), (a1, y1, f1)
        skip = ("-z",) if k == 0 else ("+z",)
    else:
        lo, hi = (f0, y0, a0), (f1, y1, a1)
        skip = ("-x",) if k == 1 else ("+x",)
    p.box(lo, hi, color, skip=() if back else skip)


def room_trim(layout: HouseLayout, i: int, rng: np.random.Generator, placed: list[Placed], trim: furniture.Color,
              board_h: float, budget: int) -> furniture.Parts:
    """Skirting boards, windows on outside walls, pictures and a ceiling light, while ``budget`` lasts."""
    p = furniture.Parts()
    H = layout.ceiling
    W, D = layout.size_u
    r = layout.rooms_u[i]
    exterior = {0: r.z0 == 0, 1: r.x0 == 0, 2: r.z1 == D, 3: r.x1 == W}
    mine = [q for q in placed if q.room == i]
    used: dict[int, list[tuple[float, float]]] = {k: [] for k in range(4)}
    for k in range(4):
        face, a0, a1, gaps = _wall_intervals(layout, i, k)
        cur = a0
        for lo, hi, _d in gaps:
            used[k].append((lo - 0.1, hi + 0.1))
            if lo - cur > 0.01:
                _wall_box(p, k, face, cur, lo, 0.0, board_h, 0.012, trim)
            cur = hi
        if a1 - cur > 0.01:
            _wall_box(p, k, face, cur, a1, 0.0, board_h, 0.012, trim)
    inner = layout.interior(i)

    def blocked_by_furniture(k: int, s0: float, s1: float, y0: float) -> bool:
        for q in mine:
            rr = q.rect
            if k == 0:
                near, a, b = rr.z0 - inner.z0, rr.x0, rr.x1
            elif k == 2:
                near, a, b = inner.z1 - rr.z1, rr.x0, rr.x1
            elif k == 1:
                near, a, b = rr.x0 - inner.x0, rr.z0, rr.z1
            else:
                near, a, b = inner.x1 - rr.x1, rr.z0, rr.z1
            if near < 0.5 and a < s1 + 0.1 and b > s0 - 0.1 and q.height > y0 - 0.05:
                return True
        return False

    def free_span(k: int, s0: float, s1: float) -> bool:
        return all(s1 <= u0 or s0 >= u1 for u0, u1 in used[k])

    glass = furniture.c_hsv(rng.uniform(0.53, 0.6), rng.uniform(0.15, 0.4), rng.uniform(0.85, 0.97))
    win_frame = trim if rng.random() < 0.6 else furniture.c_white(rng)
    n_win = 0
    max_win = 1 if layout.types[i] == "bathroom" else int(rng.integers(1, 3))
    for k in [int(s) for s in rng.permutation(4)]:
        if not exterior[k] or n_win >= max_win or p.num_triangles > budget - 80:
            continue
        face, a0, a1, _ = _wall_intervals(layout, i, k)
        ww = float(min(rng.uniform(0.8, 1.6), a1 - a0 - 0.8))
        if ww < 0.6:
            continue
        # sills start above the agent's height (0.88 m) so they never narrow the walkable floor
        sill = float(rng.uniform(0.92, 1.05)) if layout.types[i] != "bathroom" else float(rng.uniform(1.2, 1.4))
        top = float(min(H - 0.3, sill + rng.uniform(1.0, 1.4)))
        for _ in range(4):
            s0 = float(rng.uniform(a0 + 0.4, a1 - 0.4 - ww))
            s1 = s0 + ww
            if free_span(k, s0, s1) and not blocked_by_furniture(k, s0, s1, sill):
                fw = 0.05
                _wall_box(p, k, face, s0 + fw, s1 - fw, sill + fw, top - fw, 0.01, glass)
                _wall_box(p, k, face, s0, s1, top - fw, top, 0.04, win_frame)
                _wall_box(p, k, face, s0, s1, sill - 0.02, sill + fw, 0.07, win_frame)
                _wall_box(p, k, face, s0, s0 + fw, sill + fw, top - fw, 0.04, win_frame)
                _wall_box(p, k, face, s1 - fw, s1, sill + fw, top - fw, 0.04, win_frame)
                if ww > 1.0:
                    m = (s0 + s1) / 2
                    _wall_box(p, k, face, m - 0.025, m + 0.025, sill + fw, top - fw, 0.03, win_frame)
                used[k].append((s0 - 0.2, s1 + 0.2))
                n_win += 1
                break
    n_pic = int(rng.integers(0, 3)) if layout.types[i] != "bathroom" else 0
    for k in [int(s) for s in rng.permutation(4)][: n_pic + 1]:
        if n_pic <= 0 or p.num_triangles > budget - 50:
            break
        face, a0, a1, _ = _wall_intervals(layout, i, k)
        pw, ph = float(rng.uniform(0.4, 1.0)), float(rng.uniform(0.35, 0.8))
        if a1 - a0 < pw + 0.6:
            continue
        yc = float(rng.uniform(1.45, 1.65))
        for _ in range(3):
            s0 = float(rng.uniform(a0 + 0.3, a1 - 0.3 - pw))
            s1 = s0 + pw
            if free_span(k, s0, s1) and not blocked_by_furniture(k, s0, s1, yc - ph / 2 - 0.1):
                frame = furniture.c_wood(rng) if rng.random() < 0.5 else (
                    furniture.c_dark(rng) if rng.random() < 0.5 else furniture.c_white(rng))
                _wall_box(p, k, face, s0, s1, yc - ph / 2, yc + ph / 2, 0.03, frame)
                _wall_box(p, k, face, s0 + 0.04, s1 - 0.04, yc - ph / 2 + 0.04, yc + ph / 2 - 0.04, 0.032,
                          furniture.c_hsv(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.6, 0.95)))
                for _b in range(int(rng.integers(1, 4))):  # abstract colour blocks
                    bw, bh = (pw - 0.1) * rng.uniform(0.2, 0.6), (ph - 0.1) * rng.uniform(0.2, 0.6)
                    bx = s0 + 0.05 + rng.uniform(0, pw - 0.1 - bw)
                    by = yc - ph / 2 + 0.05 + rng.uniform(0, ph - 0.1 - bh)
                    _wall_box(p, k, face, bx, bx + bw, by, by + bh, 0.034, furniture.c_bright(rng))
                used[k].append((s0 - 0.2, s1 + 0.2))
                n_pic -= 1
                break
    if p.num_triangles < budget - 40:
        rr = float(rng.uniform(0.12, 0.25))
        cx, cz = (inner.x0 + inner.x1) / 2, (inner.z0 + inner.z1) / 2
        p.cyl(rr * 0.8, rr, H - float(rng.uniform(0.05, 0.12)), H,
              furniture.c_hsv(0.12, rng.uniform(0.0, 0.15), 0.98), seg=12, c=(cx, cz), caps="bottom")
    return p


_DOOR_TRIANGLES = 48  #: triangles of one doorway_parts (jambs, head, threshold, architraves)


def structure_triangles(layout: HouseLayout) -> int:
    """Triangles of floors, ceilings, walls (with lintels) and doorways."""
    n = len(layout.rooms_u)
    walls = sum(2 * (2 * len(_wall_intervals(layout, i, k)[3]) + 1) for i in range(n) for k in range(4))
    return 4 * n + walls + _DOOR_TRIANGLES * len(layout.doors)

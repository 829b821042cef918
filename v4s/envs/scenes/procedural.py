"""Deterministic procedural houses: a GLB plus ``.semantic.json`` per seed.

A house is 2-6 axis-aligned rooms from a BSP split of a rectangular footprint,
joined by open doorways (a random spanning tree over rooms sharing enough wall,
sometimes plus one loop). Every room gets its own wall and floor texture (distinct
colour and pattern), a type (living room, bedroom, bathroom, kitchen, dining room,
office) and furniture placed by rules for that type. Placement keeps every doorway
clear, keeps the free floor of the whole house one connected region for a cylinder
agent (checked on a 5 cm occupancy grid) and keeps every ObjectNav object visible
from reachable floor within 1 m.

Conventions: metres, y up, floor at y = 0; the house is centred on the origin. The
layout is planned on an integer grid of 5 cm units (``UNIT``) so walls, doors and the
occupancy grid line up exactly. Same seed -> byte-identical files.

Node names in the GLB: ``room_{i:02d}_floor``, ``room_{i:02d}_walls``,
``room_{i:02d}_ceiling``, ``room_{i:02d}_trim`` (skirting, windows, pictures,
ceiling light), ``door_{k:02d}`` (jambs, head, threshold, architraves) and
``object_{id:04d}_{category}`` for every semantic object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from v4s.envs.scenes import furniture as F
from v4s.envs.scenes import textures as T
from v4s.envs.scenes.semantic import OBJECTNAV_CATEGORIES, Room, SceneMetadata, SceneObject
from v4s.envs.scenes.spec import house_id
from v4s.fileio import write_bytes_atomic

GENERATOR_NAME = "v4s.procedural"
GENERATOR_VERSION = 1

UNIT = 0.05  #: layout grid, metres
WALL_T = 0.1  #: wall thickness, metres (2 units)
MIN_ROOM = 2.6  #: smallest room side, metres
MIN_SHARED = 1.7  #: shared wall needed for a doorway (0.9 m door + 0.4 m each side), metres
DOOR_MARGIN = 0.4  #: doorway edge to the end of the shared wall (>= 0.3 m to the wall faces), metres
DOOR_CLEAR = 1.0  #: depth kept free of furniture on both sides of a doorway, metres
WALL_GAP = 0.06  #: furniture to wall face, metres
#: agent radii the connectivity check runs at, metres: habitat's 0.18 and a band around it, so that
#: no radius in [0.15, 0.2] sees an island (a pocket can close at one radius and not at another).
#: The first is the radius reachability (visibility) is judged at.
NAV_RADII = (0.2, 0.18, 0.15, 0.16, 0.17, 0.19)
VISIBLE_RANGE = 1.0  #: an ObjectNav object needs reachable floor this close on a visible side, metres
TALL = 0.8  #: objects at least this tall block the view along the floor, metres
MAX_TRIANGLES = 6000

ROOM_TYPES: tuple[str, ...] = ("living_room", "bedroom", "bathroom", "kitchen", "dining_room", "office")

# local side of an object -> direction in its own frame (front is +z)
_SIDE_DIRS = {"front": (0, 1), "back": (0, -1), "left": (-1, 0), "right": (1, 0)}
# wall side index k of a room: 0 = low-z wall, 1 = low-x, 2 = high-z, 3 = high-x. An object with its back
# to wall k is rotated by yaw k * 90 degrees (its front then points into the room).


@dataclass
class GeneratedHouse:
    scene: trimesh.Scene  #: one node per object and per structural part
    metadata: SceneMetadata
    layout: HouseLayout | None = field(default=None, repr=False)  #: the plan (rooms, doors) behind it


@dataclass(frozen=True)
class Rect:
    """Axis-aligned rectangle in the floor plane: x0 <= x <= x1, z0 <= z <= z1 (metres unless noted)."""

    x0: float
    z0: float
    x1: float
    z1: float

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def d(self) -> float:
        return self.z1 - self.z0

    @property
    def area(self) -> float:
        return self.w * self.d

    def overlaps(self, o: Rect, eps: float = 1e-6) -> bool:
        return self.x0 < o.x1 - eps and o.x0 < self.x1 - eps and self.z0 < o.z1 - eps and o.z0 < self.z1 - eps

    def inside(self, o: Rect, eps: float = 1e-6) -> bool:
        return self.x0 >= o.x0 - eps and self.x1 <= o.x1 + eps and self.z0 >= o.z0 - eps and self.z1 <= o.z1 + eps

    def grow(self, m: float) -> Rect:
        return Rect(self.x0 - m, self.z0 - m, self.x1 + m, self.z1 + m)


@dataclass
class Door:
    """An open doorway. ``axis`` 'x': the wall is the plane x = coord; 'z': the plane z = coord (units)."""

    id: int
    rooms: tuple[int, int]
    axis: str
    coord: int  #: wall centre line, units
    lo: int  #: doorway extent along the wall, units
    hi: int
    height: float  #: metres

    def rect(self) -> Rect:
        """The threshold (the floor between the two wall faces), metres."""
        if self.axis == "x":
            return Rect((self.coord - 1) * UNIT, self.lo * UNIT, (self.coord + 1) * UNIT, self.hi * UNIT)
        return Rect(self.lo * UNIT, (self.coord - 1) * UNIT, self.hi * UNIT, (self.coord + 1) * UNIT)

    def clear_zone(self) -> Rect:
        """Doorway plus DOOR_CLEAR deep on both sides (and 0.1 m wider), metres."""
        r = self.rect()
        if self.axis == "x":
            return Rect(r.x0 - DOOR_CLEAR, r.z0 - 0.1, r.x1 + DOOR_CLEAR, r.z1 + 0.1)
        return Rect(r.x0 - 0.1, r.z0 - DOOR_CLEAR, r.x1 + 0.1, r.z1 + DOOR_CLEAR)


@dataclass
class HouseLayout:
    """The floor plan, in house-local coordinates (origin at the footprint corner) before centring."""

    size_u: tuple[int, int]  #: footprint (x, z), units
    rooms_u: list[Rect]  #: room rectangles (wall centre lines), units
    types: list[str]
    doors: list[Door]
    ceiling: float
    offset: tuple[float, float]  #: add to house-local (x, z) to get world coordinates, metres

    def interior(self, i: int) -> Rect:
        """Room i between its wall faces, house-local metres."""
        r = self.rooms_u[i]
        return Rect((r.x0 + 1) * UNIT, (r.z0 + 1) * UNIT, (r.x1 - 1) * UNIT, (r.z1 - 1) * UNIT)


@dataclass(eq=False)
class Placed:
    fur: F.Furniture
    room: int
    k: int  #: yaw in quarter turns
    pos: tuple[float, float, float]  #: (x, y, z): footprint centre x, z and base height y, house-local metres
    rect: Rect
    support: Placed | None = None

    @property
    def category(self) -> str:
        return self.fur.category

    @property
    def height(self) -> float:
        return float(self.pos[1] + self.fur.size[1])


def _footprint(fur: F.Furniture, k: int, cx: float, cz: float) -> Rect:
    w, _, d = fur.size
    if k % 2:
        w, d = d, w
    return Rect(cx - w / 2, cz - d / 2, cx + w / 2, cz + d / 2)


# ============================================================================ layout


def _split(rng: np.random.Generator, r: Rect, areas: list[float], min_u: int, out: list[Rect]) -> bool:
    """BSP-split integer rectangle ``r`` into rooms of about ``areas`` (relative), no side under ``min_u``."""
    k = len(areas)
    if k == 1:
        out.append(r)
        return True
    w, d = int(r.w), int(r.d)
    k1 = k // 2 if rng.random() < 0.5 else k - k // 2
    a1, a2 = areas[:k1], areas[k1:]
    options = [(axis, length) for axis, length in (("x", w), ("z", d)) if length >= 2 * min_u]
    if not options:
        return False
    if len(options) == 2:
        longer = 0 if w >= d else 1
        axis, length = options[longer] if rng.random() < 0.8 else options[1 - longer]
    else:
        axis, length = options[0]
    frac = sum(a1) / (sum(a1) + sum(a2)) * rng.uniform(0.93, 1.07)
    cut = min(max(int(round(length * frac)), min_u), length - min_u)
    if axis == "x":
        a, b = Rect(r.x0, r.z0, r.x0 + cut, r.z1), Rect(r.x0 + cut, r.z0, r.x1, r.z1)
    else:
        a, b = Rect(r.x0, r.z0, r.x1, r.z0 + cut), Rect(r.x0, r.z0 + cut, r.x1, r.z1)
    return _split(rng, a, a1, min_u, out) and _split(rng, b, a2, min_u, out)


def _shared_walls(rooms: list[Rect]) -> list[tuple[int, int, str, int, int, int]]:
    """(a, b, axis, coord, lo, hi) for room pairs sharing a wall of at least MIN_SHARED (units)."""
    need = int(round(MIN_SHARED / UNIT))
    out = []
    for a in range(len(rooms)):
        for b in range(a + 1, len(rooms)):
            ra, rb = rooms[a], rooms[b]
            for axis in ("x", "z"):
                if axis == "x":
                    touch = ra.x1 == rb.x0 or rb.x1 == ra.x0
                    coord = ra.x1 if ra.x1 == rb.x0 else ra.x0
                    lo, hi = max(ra.z0, rb.z0), min(ra.z1, rb.z1)
                else:
                    touch = ra.z1 == rb.z0 or rb.z1 == ra.z0
                    coord = ra.z1 if ra.z1 == rb.z0 else ra.z0
                    lo, hi = max(ra.x0, rb.x0), min(ra.x1, rb.x1)
                if touch and hi - lo >= need:
                    out.append((a, b, axis, int(coord), int(lo), int(hi)))
    return out


def _connected(n: int, edges: list[tuple[int, int]]) -> bool:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        parent[find(a)] = find(b)
    return len({find(i) for i in range(n)}) == 1


def _assign_types(rng: np.random.Generator, rooms: list[Rect]) -> list[str]:
    n = len(rooms)
    order = sorted(range(n), key=lambda i: (-rooms[i].area, i))
    types = [""] * n
    types[order[0]] = "living_room"
    rest = order[1:]
    if n >= 3:
        types[rest[-1]] = "bathroom"
        rest = rest[:-1]
    if n == 2:
        pool = [str(rng.choice(["bedroom", "bedroom", "bedroom", "office", "kitchen", "dining_room"]))]
    else:
        pool = ["bedroom", "kitchen"]
        extra = ["bedroom", "dining_room", "office"]
        rng.shuffle(extra)
        pool += extra
        if n == 3 and rng.random() < 0.3:
            pool = ["kitchen" if rng.random() < 0.5 else "office"]
        pool = pool[: len(rest)]
    perm = rng.permutation(len(rest))
    for slot, t in zip(perm, pool):
        types[rest[int(slot)]] = t
    return types


def _layout(rng: np.random.Generator) -> HouseLayout:
    n = int(rng.integers(2, 7))
    min_u = int(round(MIN_ROOM / UNIT))
    rooms: list[Rect] = []
    shared: list = []
    for _attempt in range(60):
        areas = [float(a) for a in rng.uniform(12.0, 22.0, n)]
        if n >= 3:  # one small room for the bathroom
            areas[int(rng.integers(n))] = float(rng.uniform(7.0, 10.0))
        area = sum(areas)
        aspect = rng.uniform(1.0, 1.7)
        long_side = math.sqrt(area * aspect)
        w_u, d_u = int(round(long_side / UNIT)), int(round(area / long_side / UNIT))
        if rng.random() < 0.5:
            w_u, d_u = d_u, w_u
        rooms = []
        if not _split(rng, Rect(0, 0, w_u, d_u), areas, min_u, rooms):
            continue
        if any(min(r.w, r.d) < min_u or max(r.w, r.d) > 2.8 * min(r.w, r.d) for r in rooms):
            continue
        shared = _shared_walls(rooms)
        if _connected(n, [(a, b) for a, b, *_ in shared]):
            break
    else:  # fall back to a row of rooms, which always works
        w_u = int(round(rng.uniform(3.4, 4.2) / UNIT))
        d_u = int(round(rng.uniform(3.4, 4.6) / UNIT))
        rooms = [Rect(i * w_u, 0, (i + 1) * w_u, d_u) for i in range(n)]
        w_u *= n
        shared = _shared_walls(rooms)
    # sort rooms (position order) so ids read left-to-right, top-to-bottom
    order = sorted(range(n), key=lambda i: (rooms[i].z0, rooms[i].x0))
    rooms = [rooms[i] for i in order]
    shared = _shared_walls(rooms)
    types = _assign_types(rng, rooms)
    # doors: random spanning tree (Kruskal on random weights), sometimes one extra
    weights = rng.random(len(shared))
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    chosen, spare = [], []
    for e in np.argsort(weights, kind="stable"):
        a, b = shared[int(e)][:2]
        if find(a) != find(b):
            parent[find(a)] = find(b)
            chosen.append(int(e))
        else:
            spare.append(int(e))
    spare = [e for e in spare if "bathroom" not in (types[shared[e][0]], types[shared[e][1]])]
    if spare and rng.random() < 0.35:
        chosen.append(spare[int(rng.integers(len(spare)))])
    ceiling = round(rng.uniform(2.6, 3.0) / UNIT) * UNIT
    door_h = round(rng.uniform(2.0, 2.2) / UNIT) * UNIT
    doors = []
    margin = int(round(DOOR_MARGIN / UNIT))
    for e in sorted(chosen):
        a, b, axis, coord, lo, hi = shared[e]
        width = int(round(rng.uniform(0.9, 1.1) / UNIT))
        width = min(width, hi - lo - 2 * margin)
        start = lo + margin + int(rng.integers(0, hi - lo - 2 * margin - width + 1))
        doors.append(Door(id=len(doors), rooms=(a, b), axis=axis, coord=coord, lo=start, hi=start + width,
                          height=float(door_h)))
    offset = (-(w_u // 2) * UNIT, -(d_u // 2) * UNIT)
    return HouseLayout(size_u=(w_u, d_u), rooms_u=rooms, types=types, doors=doors, ceiling=float(ceiling),
                       offset=offset)


# ============================================================================ occupancy / navigability


class Occupancy:
    """The house floor on a UNIT grid: walls, furniture footprints, agent clearance and reachability."""

    def __init__(self, layout: HouseLayout):
        self.layout = layout
        nx, nz = layout.size_u
        wall = np.ones((nx, nz), dtype=bool)
        for r in layout.rooms_u:
            wall[int(r.x0) + 1: int(r.x1) - 1, int(r.z0) + 1: int(r.z1) - 1] = False
        for d in layout.doors:
            if d.axis == "x":
                wall[d.coord - 1: d.coord + 1, d.lo: d.hi] = False
            else:
                wall[d.lo: d.hi, d.coord - 1: d.coord + 1] = False
        self.wall = wall
        self.cx = (np.arange(nx) + 0.5) * UNIT
        self.cz = (np.arange(nz) + 0.5) * UNIT
        edt = ndimage.distance_transform_edt(~wall)
        self.blocked = {r: (edt - 0.5) * UNIT < r - 1e-9 for r in NAV_RADII}

    def _window(self, rect: Rect, m: float) -> tuple[int, int, int, int]:
        nx, nz = self.wall.shape
        i0 = max(0, int(math.floor((rect.x0 - m) / UNIT)))
        i1 = min(nx, int(math.ceil((rect.x1 + m) / UNIT)) + 1)
        j0 = max(0, int(math.floor((rect.z0 - m) / UNIT)))
        j1 = min(nz, int(math.ceil((rect.z1 + m) / UNIT)) + 1)
        return i0, i1, j0, j1

    def _dilated(self, rect: Rect, r: float):
        i0, i1, j0, j1 = self._window(rect, r)
        xs, zs = self.cx[i0:i1], self.cz[j0:j1]
        dx = np.maximum(np.maximum(rect.x0 - xs, xs - rect.x1), 0.0)
        dz = np.maximum(np.maximum(rect.z0 - zs, zs - rect.z1), 0.0)
        return i0, i1, j0, j1, dx[:, None] ** 2 + dz[None, :] ** 2 < r * r

    def blocked_with(self, extra: list[Rect], r: float) -> np.ndarray:
        blk = self.blocked[r].copy()
        for rect in extra:
            i0, i1, j0, j1, m = self._dilated(rect, r)
            blk[i0:i1, j0:j1] |= m
        return blk

    def add(self, rect: Rect) -> None:
        """Block a furniture footprint."""
        for r in NAV_RADII:
            i0, i1, j0, j1, m = self._dilated(rect, r)
            self.blocked[r][i0:i1, j0:j1] |= m

    def free_ok(self, extra: list[Rect]) -> tuple[bool, np.ndarray]:
        """Whether the free floor stays one connected region at every NAV_RADII; also the free mask at NAV_RADII[0]."""
        free = None
        for r in NAV_RADII:
            f = ~self.blocked_with(extra, r)
            _, count = ndimage.label(f)
            if count != 1:
                return False, f
            if free is None:
                free = f
        return True, free

    def visible(self, rect: Rect, dirs: list[tuple[int, int]], free: np.ndarray, tall: list[Rect]) -> bool:
        """Reachable floor within VISIBLE_RANGE of ``rect`` on one of ``dirs`` with nothing tall in between."""
        for dx, dz in dirs:
            if dx:
                j_sel = (self.cz >= rect.z0) & (self.cz <= rect.z1)
                if dx > 0:
                    a_sel = (self.cx > rect.x1) & (self.cx <= rect.x1 + VISIBLE_RANGE)
                else:
                    a_sel = (self.cx < rect.x0) & (self.cx >= rect.x0 - VISIBLE_RANGE)
                ai = np.nonzero(a_sel)[0]
                bi = np.nonzero(j_sel)[0]
                if dx < 0:
                    ai = ai[::-1]
                if len(ai) == 0 or len(bi) == 0:
                    continue
                sub_free = free[np.ix_(ai, bi)].T  # (columns, outward)
                sub_blk = self.wall[np.ix_(ai, bi)].T.copy()
                xs, zs = self.cx[ai], self.cz[bi]
                for t in tall:
                    sub_blk |= ((zs[:, None] >= t.z0) & (zs[:, None] <= t.z1) & (xs[None, :] >= t.x0)
                                & (xs[None, :] <= t.x1))
            else:
                i_sel = (self.cx >= rect.x0) & (self.cx <= rect.x1)
                if dz > 0:
                    a_sel = (self.cz > rect.z1) & (self.cz <= rect.z1 + VISIBLE_RANGE)
                else:
                    a_sel = (self.cz < rect.z0) & (self.cz >= rect.z0 - VISIBLE_RANGE)
                ai = np.nonzero(a_sel)[0]
                bi = np.nonzero(i_sel)[0]
                if dz < 0:
                    ai = ai[::-1]
                if len(ai) == 0 or len(bi) == 0:
                    continue
                sub_free = free[np.ix_(bi, ai)]  # (columns, outward)
                sub_blk = self.wall[np.ix_(bi, ai)].copy()
                xs, zs = self.cx[bi], self.cz[ai]
                for t in tall:
                    sub_blk |= ((xs[:, None] >= t.x0) & (xs[:, None] <= t.x1) & (zs[None, :] >= t.z0)
                                & (zs[None, :] <= t.z1))
            n_out = sub_free.shape[1]
            first_free = np.where(sub_free.any(axis=1), sub_free.argmax(axis=1), n_out)
            first_blk = np.where(sub_blk.any(axis=1), sub_blk.argmax(axis=1), n_out)
            if np.any(first_free < np.minimum(first_blk, n_out)):
                return True
        return False


def navigability(layout: HouseLayout, objects: list[SceneObject], radius: float = 0.2) -> dict:
    """Independent check of a finished house from its plan and its objects' AABBs (world frame).

    Returns {"components": number of connected free regions, "doors_free": every doorway centre
    reachable, "rooms_free": every room has reachable floor, "goals_near": every ObjectNav object
    has reachable floor within VISIBLE_RANGE of its footprint, "free_area": m^2}.
    """
    occ = Occupancy(layout)
    ox, oz = layout.offset
    blk = occ.blocked_with([], radius) if radius in occ.blocked else None
    if blk is None:
        edt = ndimage.distance_transform_edt(~occ.wall)
        blk = (edt - 0.5) * UNIT < radius - 1e-9
    extra = []
    for o in objects:
        (x0, y0, z0), (x1, y1, z1) = o.aabb
        if y1 - y0 < 0.02 and y0 < 0.02:  # rugs are walkable
            continue
        extra.append(Rect(x0 - ox, z0 - oz, x1 - ox, z1 - oz))
    for rect in extra:
        i0, i1, j0, j1, m = occ._dilated(rect, radius)
        blk[i0:i1, j0:j1] |= m
    labels, count = ndimage.label(~blk)
    doors_free = True
    for d in layout.doors:
        r = d.rect()
        i = int(((r.x0 + r.x1) / 2) / UNIT)
        j = int(((r.z0 + r.z1) / 2) / UNIT)
        doors_free &= bool(labels[i, j] > 0)
    rooms_free = True
    for i in range(len(layout.rooms_u)):
        r = layout.rooms_u[i]
        rooms_free &= bool((labels[int(r.x0): int(r.x1), int(r.z0): int(r.z1)] > 0).any())
    goals_near = True  # every ObjectNav object has reachable floor within VISIBLE_RANGE of its footprint
    for o in objects:
        if o.category not in OBJECTNAV_CATEGORIES:
            continue
        (x0, _, z0), (x1, _, z1) = o.aabb
        i0, i1, j0, j1, near = occ._dilated(Rect(x0 - ox, z0 - oz, x1 - ox, z1 - oz), VISIBLE_RANGE)
        goals_near &= bool((near & (labels[i0:i1, j0:j1] > 0)).any())
    return {"components": int(count), "doors_free": doors_free, "rooms_free": rooms_free,
            "goals_near": goals_near, "free_area": float((labels > 0).sum() * UNIT * UNIT)}


# ============================================================================ furniture placement


class _Planner:
    def __init__(self, layout: HouseLayout, rng: np.random.Generator, budget: int):
        self.L = layout
        self.rng = rng
        self.occ = Occupancy(layout)
        self.placed: list[Placed] = []
        self.zones = [d.clear_zone() for d in layout.doors]
        self.budget = budget
        self.tris = 0

    # -- geometry helpers
    def usable(self, room: int) -> Rect:
        return self.L.interior(room).grow(-(WALL_GAP - 1e-4))

    def _tall_rects(self, exclude: list[Placed]) -> list[Rect]:
        return [p.rect for p in self.placed if p.height >= TALL and p.category != "rug" and
                all(p is not e for e in exclude)]

    def _check(self, cand: Placed) -> bool:
        """Every rule for adding ``cand``: room bounds, doorways, overlaps, budget, connectivity, visibility."""
        if self.tris + cand.fur.num_triangles > self.budget:
            return False
        rect = cand.rect
        if cand.support is None:
            if not rect.inside(self.usable(cand.room)):
                return False
            if any(rect.overlaps(z) for z in self.zones):
                return False
            is_rug = cand.category == "rug"
            for p in self.placed:
                if p.support is None and rect.overlaps(p.rect.grow(0.02 if not is_rug else 0.1)):
                    return False
        else:
            if not rect.inside(cand.support.rect):
                return False
        if cand.height > self.L.ceiling - 0.05:
            return False
        blocks = cand.support is None and cand.category != "rug"
        ok, free = self.occ.free_ok([rect] if blocks else [])
        if not ok:
            return False
        everyone = self.placed + [cand]
        for p in everyone:
            if p.category not in OBJECTNAV_CATEGORIES:
                continue
            dirs = []
            R = F.yaw_quarter(p.k)
            for side in p.fur.visible:
                lx, lz = _SIDE_DIRS[side]
                v = R @ np.array([lx, 0.0, lz])
                dirs.append((int(round(v[0])), int(round(v[2]))))
            tall = [t.rect for t in everyone if t.height >= TALL and t.category != "rug" and t is not p
                    and t is not p.support and t.support is not p]
            if not self.occ.visible(p.rect, dirs, free, tall):
                return False
        return True

    def commit(self, cand: Placed) -> Placed:
        self.placed.append(cand)
        self.tris += cand.fur.num_triangles
        if cand.support is None and cand.category != "rug":
            self.occ.add(cand.rect)
        return cand

    def try_at(self, fur: F.Furniture, room: int, k: int, cx: float, cz: float, support: Placed | None = None,
               y: float = 0.0) -> Placed | None:
        cand = Placed(fur, room, k % 4, (cx, y, cz), _footprint(fur, k, cx, cz), support)
        if self._check(cand):
            return self.commit(cand)
        return None

    def wall_free(self, fur: F.Furniture, room: int, k: int) -> tuple[list[tuple[float, float]], float, float, float]:
        """Where ``fur`` can stand with its back to wall k of ``room``, ignoring navigability.

        Returns (free intervals of the centre's along-wall coordinate, the full range lo, hi, and the
        centre's perpendicular coordinate).
        """
        u = self.usable(room)
        w, _, d = fur.size
        if k % 2 == 0:
            lo, hi = u.x0 + w / 2, u.x1 - w / 2
            b0, b1 = (u.z0, u.z0 + d) if k == 0 else (u.z1 - d, u.z1)
        else:
            lo, hi = u.z0 + w / 2, u.z1 - w / 2
            b0, b1 = (u.x0, u.x0 + d) if k == 1 else (u.x1 - d, u.x1)
        perp = (b0 + b1) / 2
        if hi < lo - 1e-9:
            return [], lo, hi, perp
        hi = max(hi, lo)
        blocks = list(self.zones) + [q.rect.grow(0.02) for q in self.placed if q.support is None]
        free = [(lo, hi)]
        for r in blocks:
            p0, p1, a0, a1 = (r.z0, r.z1, r.x0, r.x1) if k % 2 == 0 else (r.x0, r.x1, r.z0, r.z1)
            if p1 <= b0 + 1e-6 or p0 >= b1 - 1e-6:
                continue
            c0, c1 = a0 - w / 2, a1 + w / 2
            nxt = []
            for f0, f1 in free:
                if c1 <= f0 or c0 >= f1:
                    nxt.append((f0, f1))
                    continue
                if c0 > f0:
                    nxt.append((f0, c0 - 1e-4))
                if c1 < f1:
                    nxt.append((c1 + 1e-4, f1))
            free = [(a, b) for a, b in nxt if b >= a]
        return free, lo, hi, perp

    def against_wall(self, fur: F.Furniture, room: int, tries: int = 8, corner: bool = False,
                     sides: list[int] | None = None, t_range: tuple[float, float] = (0.0, 1.0)) -> Placed | None:
        """Back against a wall (sides tried in random order), anywhere along it or in a corner."""
        sides = [int(k) for k in self.rng.permutation(4)] if sides is None else list(sides)
        cands: list[tuple[int, float, float]] = []
        for k in sides:
            free, lo, hi, perp = self.wall_free(fur, room, k)
            if not free:
                continue
            if corner:
                ends = [a for f in free for a in f if abs(a - lo) < 1e-3 or abs(a - hi) < 1e-3]
                picks = [float(self.rng.choice(ends))] if ends else []
            else:
                t0, t1 = lo + t_range[0] * (hi - lo), lo + t_range[1] * (hi - lo)
                sub = [(max(a, t0), min(b, t1)) for a, b in free if min(b, t1) >= max(a, t0)]
                if not sub:
                    continue
                lens = np.array([b - a for a, b in sub]) + 1e-3
                picks = []
                for _ in range(2):
                    a, b = sub[int(self.rng.choice(len(sub), p=lens / lens.sum()))]
                    picks.append(float(self.rng.uniform(a, b)))
            for a in picks:
                cx, cz = (a, perp) if k % 2 == 0 else (perp, a)
                cands.append((k, cx, cz))
        for k, cx, cz in cands[:tries]:
            p = self.try_at(fur, room, k, cx, cz)
            if p is not None:
                return p
        return None

    def anywhere(self, fur: F.Furniture, room: int, tries: int = 40, margin: float = 0.3,
                 k: int | None = None) -> Placed | None:
        u = self.usable(room).grow(-margin)
        for _ in range(tries):
            kk = int(self.rng.integers(4)) if k is None else k
            rect0 = _footprint(fur, kk, 0.0, 0.0)
            lo_x, hi_x = u.x0 - rect0.x0, u.x1 - rect0.x1
            lo_z, hi_z = u.z0 - rect0.z0, u.z1 - rect0.z1
            if hi_x < lo_x or hi_z < lo_z:
                continue
            p = self.try_at(fur, room, kk, float(self.rng.uniform(lo_x, hi_x)), float(self.rng.uniform(lo_z, hi_z)))
            if p is not None:
                return p
        return None

    def on_top(self, fur: F.Furniture, base: Placed, back_gap: float = 0.05) -> Placed | None:
        """Put ``fur`` on ``base`` (same orientation), centred, towards its back."""
        k = base.k
        R = F.yaw_quarter(k)
        _, bd = base.fur.size[0], base.fur.size[2]
        fd = fur.size[2]
        off = -(bd / 2 - back_gap - fd / 2)  # local z of fur centre on base
        if off > 0:
            off = 0.0
        v = R @ np.array([0.0, 0.0, off])
        return self.try_at(fur, base.room, k, base.pos[0] + v[0], base.pos[2] + v[2], support=base,
                           y=base.height)

    def facing(self, fur: F.Furniture, room: int, target: Placed, dist: float, jitter: float = 0.0) -> Placed | None:
        """Place ``fur`` in front of ``target`` at ``dist`` (front edge to front edge), facing it."""
        k = (target.k + 2) % 4
        R = F.yaw_quarter(target.k)
        f = R @ np.array([0.0, 0.0, 1.0])
        fx, fz = f[0], f[2]
        t_half = target.fur.size[2] / 2
        c = np.array([target.pos[0], target.pos[2]]) + np.array([fx, fz]) * (t_half + dist + fur.size[2] / 2)
        side = np.array([-fz, fx]) * jitter
        return self.try_at(fur, room, k, float(c[0] + side[0]), float(c[1] + side[1]))

    def around_table(self, tab: Placed, room: int, n: int, style: str | None = None) -> list[Placed]:
        """Up to ``n`` chairs around table ``tab``, each facing it."""
        r = tab.rect
        ch = F.chair(self.rng, style or "dining")
        half = ch.size[2] / 2 + 0.025 + float(self.rng.uniform(0.0, 0.05))
        slots = []  # (k, x, z): k turns the chair's front towards the table
        along_x = r.w >= r.d
        per_side = max(1, int((r.w if along_x else r.d) / 0.62))
        for i in range(per_side):
            t = (i + 0.5) / per_side
            if along_x:
                x = r.x0 + t * r.w
                slots += [(0, x, r.z0 - half), (2, x, r.z1 + half)]
            else:
                z = r.z0 + t * r.d
                slots += [(1, r.x0 - half, z), (3, r.x1 + half, z)]
        mx, mz = (r.x0 + r.x1) / 2, (r.z0 + r.z1) / 2
        if along_x:
            slots += [(1, r.x0 - half, mz), (3, r.x1 + half, mz)]
        else:
            slots += [(0, mx, r.z0 - half), (2, mx, r.z1 + half)]
        out = []
        for idx in self.rng.permutation(len(slots)):
            if len(out) >= n:
                break
            k, x, z = slots[int(idx)]
            fur = ch if self.rng.random() < 0.85 else F.chair(self.rng, style or "dining")
            p = self.try_at(fur, room, k, x, z)
            if p is not None:
                out.append(p)
        return out

    def remove(self, p: Placed) -> None:
        """Undo a placement (rebuilds the occupancy from scratch)."""
        self.placed = [q for q in self.placed if q is not p]
        self.tris -= p.fur.num_triangles
        occ = Occupancy(self.L)
        for q in self.placed:
            if q.support is None and q.category != "rug":
                occ.add(q.rect)
        self.occ = occ


# -- per room type plans: first the defining pieces, then extras while they fit


def _tv_and_sofa(pl: _Planner, room: int, rng: np.random.Generator, stand_k: int) -> tuple[Placed, Placed] | None:
    """A tv on a stand against wall ``stand_k`` and a sofa facing it (plus maybe a coffee table)."""
    stand = pl.against_wall(F.cabinet(rng, "tv_stand", width=float(rng.uniform(1.2, 1.8))), room,
                            sides=[stand_k], t_range=(0.2, 0.8), tries=3)
    if stand is None:
        return None
    tv = pl.on_top(F.tv_monitor(rng, width=min(stand.fur.size[0] - 0.1, float(rng.uniform(0.8, 1.4)))), stand)
    if tv is None:
        pl.remove(stand)
        return None
    sofa = F.sofa(rng)
    inner = pl.usable(room)
    depth = inner.d if stand.k % 2 == 0 else inner.w
    room_gap = depth - stand.fur.size[2] - sofa.size[2]
    dists = [room_gap] if room_gap <= 3.4 else []  # sofa against the opposite wall
    if room_gap > 1.8:
        dists += [float(rng.uniform(1.8, min(3.0, room_gap))) for _ in range(3)]
    for dist in dists:
        for jitter in (float(rng.uniform(-0.2, 0.2)), float(rng.uniform(-0.8, 0.8))):
            placed = pl.facing(sofa, room, stand, dist, jitter=jitter)
            if placed is None:
                continue
            if dist >= 1.6 and rng.random() < 0.6:
                ct = F.table(rng, "coffee")
                if ct.size[2] < dist - 1.0:
                    pl.facing(ct, room, stand, dist / 2 - ct.size[2] / 2, jitter=jitter)
            return tv, placed
    pl.remove(tv)
    pl.remove(stand)
    return None


def _plan_living(pl: _Planner, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        inner = pl.usable(room)
        # walls facing the most depth first: the sofa needs room in front of the tv
        walls = sorted(range(4), key=lambda k: (-(inner.d if k % 2 == 0 else inner.w), float(rng.random())))
        pair = None
        for k in walls[:3]:
            pair = _tv_and_sofa(pl, room, rng, k)
            if pair is not None:
                break
        placed = pair[1] if pair is not None else None
        if pair is None:  # no tv/sofa arrangement fits: sofa and tv separately
            placed = pl.against_wall(F.sofa(rng), room) or pl.against_wall(F.sofa(rng, seats=2), room)
            stand = pl.against_wall(F.cabinet(rng, "tv_stand", width=float(rng.uniform(1.1, 1.5))), room)
            if stand is not None and pl.on_top(F.tv_monitor(rng, width=min(stand.fur.size[0] - 0.1, 1.0)),
                                               stand) is None:
                pl.remove(stand)
        if placed is not None and rng.random() < 0.35:  # side table by an arm of the sofa
            st = F.table(rng, "side")
            R = F.yaw_quarter(placed.k)
            s = float(rng.choice([-1.0, 1.0]))
            off = R @ np.array([s * (placed.fur.size[0] / 2 + 0.05 + st.size[0] / 2), 0.0,
                                -placed.fur.size[2] / 2 + st.size[2] / 2 + 0.05])
            pl.try_at(st, room, placed.k, placed.pos[0] + off[0], placed.pos[2] + off[2])
        return
    if rng.random() < 0.85:
        pl.against_wall(F.plant(rng), room, corner=True)
    if rng.random() < 0.5:
        pl.against_wall(F.chair(rng, "armchair"), room) or pl.anywhere(F.chair(rng, "armchair"), room)
    if rng.random() < 0.45:
        pl.against_wall(F.shelf(rng), room)
    if rng.random() < 0.4:
        pl.against_wall(F.lamp(rng), room, corner=True)
    if rng.random() < 0.25:
        pl.against_wall(F.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.3:
        pl.against_wall(F.plant(rng), room, corner=True)
    if rng.random() < 0.5:
        pl.anywhere(F.rug(rng), room, margin=0.2)


def _plan_bedroom(pl: _Planner, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        b = F.bed(rng)
        bed = pl.against_wall(b, room, t_range=(0.3, 0.7)) or pl.against_wall(b, room)
        if bed is None:
            b = F.bed(rng, double=False)
            bed = pl.against_wall(b, room) or pl.against_wall(b, room)
        if bed is not None and rng.random() < 0.75:
            ns = F.cabinet(rng, "nightstand")
            R = F.yaw_quarter(bed.k)
            for s in (-1, 1) if rng.random() < 0.6 else (int(rng.choice([-1, 1])),):
                off = R @ np.array([s * (bed.fur.size[0] / 2 + 0.06 + ns.size[0] / 2), 0.0,
                                    -bed.fur.size[2] / 2 + ns.size[2] / 2])
                pl.try_at(ns, room, bed.k, bed.pos[0] + off[0], bed.pos[2] + off[2])
        return
    if rng.random() < 0.6:
        pl.against_wall(F.wardrobe(rng), room)
    if rng.random() < 0.6:
        pl.against_wall(F.plant(rng), room, corner=True)
    if rng.random() < 0.25:
        desk = pl.against_wall(F.table(rng, "desk"), room)
        if desk is not None:
            pl.facing(F.chair(rng, str(rng.choice(["dining", "office"]))), room, desk, 0.06)
    if rng.random() < 0.45:
        pl.against_wall(F.chair(rng), room)
    if rng.random() < 0.3:
        pl.against_wall(F.cabinet(rng, "dresser"), room)
    if rng.random() < 0.15:
        stand = pl.against_wall(F.cabinet(rng, "tv_stand", width=float(rng.uniform(0.9, 1.3))), room)
        if stand is not None:
            tv = F.tv_monitor(rng, width=min(stand.fur.size[0] - 0.1, float(rng.uniform(0.7, 1.0))))
            if pl.on_top(tv, stand) is None:
                pl.remove(stand)
    if rng.random() < 0.3:
        pl.against_wall(F.lamp(rng), room, corner=True)
    if rng.random() < 0.4:
        pl.anywhere(F.rug(rng), room, margin=0.2)


def _plan_bathroom(pl: _Planner, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        pl.against_wall(F.toilet(rng), room, tries=12)
        pl.against_wall(F.sink(rng), room) or pl.against_wall(F.sink(rng), room)
        return
    big = pl.L.interior(room).area > 9.0
    if rng.random() < (0.85 if big else 0.55):
        pl.against_wall(F.bathtub(rng), room, corner=True)
    if rng.random() < (0.5 if big else 0.25):
        pl.against_wall(F.plant(rng), room, corner=True)
    if rng.random() < (0.5 if big else 0.2):
        pl.against_wall(F.cabinet(rng, "nightstand"), room)
    if big and rng.random() < 0.3:
        pl.against_wall(F.shelf(rng), room)
    if rng.random() < 0.4:
        pl.anywhere(F.rug(rng, size=(float(rng.uniform(0.5, 0.8)), float(rng.uniform(0.4, 0.6)))), room,
                    margin=0.1)


def _plan_kitchen(pl: _Planner, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        u = pl.usable(room)
        for _ in range(6):
            k = int(rng.integers(4))
            wall_len = u.w if k % 2 == 0 else u.d
            length = float(min(wall_len - 0.2, rng.uniform(1.4, 3.0)))
            if length < 1.0:
                continue
            c = pl.against_wall(F.counter(rng, length=length), room, sides=[k], corner=True, tries=2)
            if c is not None:
                break
        if rng.random() < 0.7:
            pl.against_wall(F.refrigerator(rng), room, corner=True) or pl.against_wall(F.refrigerator(rng), room)
        return
    if rng.random() < 0.7:
        tab = pl.anywhere(F.table(rng, "dining", size=(float(rng.uniform(0.9, 1.4)), float(rng.uniform(0.7, 0.9)))),
                          room, margin=0.6)
        if tab is not None:
            pl.around_table(tab, room, int(rng.integers(2, 5)))
    if rng.random() < 0.5:
        pl.against_wall(F.plant(rng), room, corner=True)
    if rng.random() < 0.25:
        pl.against_wall(F.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.2:
        pl.against_wall(F.shelf(rng), room)


def _plan_dining(pl: _Planner, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        tab = pl.anywhere(F.table(rng, "dining"), room, margin=0.65)
        if tab is None:
            tab = pl.anywhere(F.table(rng, "dining", size=(float(rng.uniform(0.8, 1.1)), float(rng.uniform(0.7, 0.8)))),
                              room, margin=0.5)
        if tab is not None:
            pl.around_table(tab, room, int(rng.integers(2, 7)))
        return
    if rng.random() < 0.6:
        pl.against_wall(F.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.7:
        pl.against_wall(F.plant(rng), room, corner=True)
    if rng.random() < 0.3:
        pl.against_wall(F.shelf(rng), room)
    if rng.random() < 0.3:
        pl.against_wall(F.lamp(rng), room, corner=True)


def _plan_office(pl: _Planner, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        desk = pl.against_wall(F.table(rng, "desk"), room)
        if desk is not None:
            ch = F.chair(rng, "office" if rng.random() < 0.7 else "dining")
            if pl.facing(ch, room, desk, float(rng.uniform(0.04, 0.12))) is None:
                pl.against_wall(ch, room) or pl.anywhere(ch, room)
            if rng.random() < 0.65:
                pl.on_top(F.tv_monitor(rng, monitor=True), desk, back_gap=0.08)
        if rng.random() < 0.7:
            pl.against_wall(F.shelf(rng), room)
        return
    if rng.random() < 0.6:
        pl.against_wall(F.plant(rng), room, corner=True)
    if rng.random() < 0.4:
        pl.against_wall(F.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.2:
        pl.against_wall(F.sofa(rng, seats=2), room)
    if rng.random() < 0.2:
        pl.against_wall(F.chair(rng, "armchair"), room)
    if rng.random() < 0.3:
        pl.against_wall(F.lamp(rng), room, corner=True)


_PLANS: dict[str, Callable[[_Planner, int, np.random.Generator, bool], None]] = {
    "living_room": _plan_living, "bedroom": _plan_bedroom, "bathroom": _plan_bathroom,
    "kitchen": _plan_kitchen, "dining_room": _plan_dining, "office": _plan_office,
}


# ============================================================================ structure


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


def _room_walls(layout: HouseLayout, i: int, tile: float) -> _TexMesh:
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


def _flat(rect: Rect, y: float, up: bool, tile: float) -> _TexMesh:
    m = _TexMesh()
    c = [[rect.x0, y, rect.z0], [rect.x1, y, rect.z0], [rect.x1, y, rect.z1], [rect.x0, y, rect.z1]]
    uv = [[x / tile, -z / tile] for x, _, z in c]
    m.quad(c, (0.0, 1.0 if up else -1.0, 0.0), uv)
    return m


def _door_parts(layout: HouseLayout, d: Door, trim: F.Color, sill: F.Color, arch_w: float) -> F.Parts:
    p = F.Parts()
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


def _wall_box(p: F.Parts, k: int, face: float, a0: float, a1: float, y0: float, y1: float, depth: float,
              color: F.Color, back: bool = False) -> None:
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


def _room_trim(layout: HouseLayout, i: int, rng: np.random.Generator, placed: list[Placed], trim: F.Color,
               board_h: float, budget: int) -> F.Parts:
    """Skirting boards, windows on outside walls, pictures and a ceiling light, while ``budget`` lasts."""
    p = F.Parts()
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

    glass = F.c_hsv(rng.uniform(0.53, 0.6), rng.uniform(0.15, 0.4), rng.uniform(0.85, 0.97))
    win_frame = trim if rng.random() < 0.6 else F.c_white(rng)
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
                frame = F.c_wood(rng) if rng.random() < 0.5 else (F.c_dark(rng) if rng.random() < 0.5 else
                                                                   F.c_white(rng))
                _wall_box(p, k, face, s0, s1, yc - ph / 2, yc + ph / 2, 0.03, frame)
                _wall_box(p, k, face, s0 + 0.04, s1 - 0.04, yc - ph / 2 + 0.04, yc + ph / 2 - 0.04, 0.032,
                          F.c_hsv(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.6, 0.95)))
                for _b in range(int(rng.integers(1, 4))):  # abstract colour blocks
                    bw, bh = (pw - 0.1) * rng.uniform(0.2, 0.6), (ph - 0.1) * rng.uniform(0.2, 0.6)
                    bx = s0 + 0.05 + rng.uniform(0, pw - 0.1 - bw)
                    by = yc - ph / 2 + 0.05 + rng.uniform(0, ph - 0.1 - bh)
                    _wall_box(p, k, face, bx, bx + bw, by, by + bh, 0.034, F.c_bright(rng))
                used[k].append((s0 - 0.2, s1 + 0.2))
                n_pic -= 1
                break
    if p.num_triangles < budget - 40:
        rr = float(rng.uniform(0.12, 0.25))
        cx, cz = (inner.x0 + inner.x1) / 2, (inner.z0 + inner.z1) / 2
        p.cyl(rr * 0.8, rr, H - float(rng.uniform(0.05, 0.12)), H, F.c_hsv(0.12, rng.uniform(0.0, 0.15), 0.98),
              seg=12, c=(cx, cz), caps="bottom")
    return p


# ============================================================================ assembly


def _structure_triangles(layout: HouseLayout) -> int:
    """Triangles of floors, ceilings, walls (with lintels) and doorways."""
    n = len(layout.rooms_u)
    walls = sum(2 * (2 * len(_wall_intervals(layout, i, k)[3]) + 1) for i in range(n) for k in range(4))
    return 4 * n + walls + _DOOR_TRIANGLES * len(layout.doors)


_DOOR_TRIANGLES = 48


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
    for styles, prefs, out in ((T.WALL_STYLES, wall_pref, walls), (T.FLOOR_STYLES, floor_pref, floors)):
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
        layout = _layout(rng)
        n = len(layout.rooms_u)
        structure_tris = _structure_triangles(layout)
        trim_reserve = n * 150
        budget = MAX_TRIANGLES - structure_tris - trim_reserve
        pl = _Planner(layout, rng, budget)
        order = sorted(range(n), key=lambda i: (ROOM_TYPES.index(layout.types[i]), i))
        for extras in (False, True):
            for i in order:
                _PLANS[layout.types[i]](pl, i, rng, extras)
        cats = {p.category for p in pl.placed} & set(OBJECTNAV_CATEGORIES)
        if len(cats) >= 3:
            best = (layout, pl)
            break
        if best is None or len(cats) > len({p.category for p in best[1].placed} & set(OBJECTNAV_CATEGORIES)):
            best = (layout, pl)
    layout, pl = best
    return _assemble(seed, scene_id, layout, pl, rng)


def _assemble(seed: int, scene_id: str, layout: HouseLayout, pl: _Planner, rng: np.random.Generator) -> GeneratedHouse:
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
    wall_tex = [T.wall_texture(rng, wall_styles[i], float(hues[i])) for i in range(n)]
    floor_tex = [T.floor_texture(rng, floor_styles[i], float(floor_hues[i])) for i in range(n)]
    ceil_tex = T.ceiling_texture(rng)
    ceil_mat = _pbr("ceiling", ceil_tex.image, 0.95)
    trim = F.c_white(rng) if rng.random() < 0.6 else F.c_wood(rng)
    sill = F.c_hsv(0.08, rng.uniform(0.0, 0.3), rng.uniform(0.4, 0.8))
    board_h = float(rng.uniform(0.06, 0.12))
    arch_w = float(rng.uniform(0.05, 0.09))

    # ---- palette parts: doors, trims, objects
    door_parts = [_door_parts(layout, d, trim, sill, arch_w) for d in layout.doors]
    used = pl.tris + _structure_triangles(layout)
    trims = []
    for i in range(n):
        left = MAX_TRIANGLES - used - sum(t.num_triangles for t in trims)
        trims.append(_room_trim(layout, i, rng, pl.placed, trim, board_h, budget=max(0, left // max(1, n - i))
                                if i < n - 1 else max(0, left)))
    objs = [p for _, p in sorted(enumerate(pl.placed), key=lambda e: (e[1].room, e[0]))]
    obj_arrays = []
    for p in objs:
        R = F.yaw_quarter(p.k)
        v = p.fur.vertices @ R.T + np.array([p.pos[0], p.pos[1], p.pos[2]])
        obj_arrays.append((v, p.fur.normals @ R.T, p.fur.faces, p.fur.colors))
    part_arrays = [dp.arrays() for dp in door_parts] + [t.arrays() for t in trims]
    packed = np.concatenate([a[3] for a in obj_arrays + part_arrays])
    _, first = np.unique(packed, return_index=True)
    colors = packed[np.sort(first)]
    palette_img, cell_uv = T.palette_image(F.unpack(colors))
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
        fm = _flat(inner, 0.0, True, floor_tex[i].tile)
        v, nn, f, uv = fm.arrays()
        add(f"room_{i:02d}_floor", _mesh(v + shift, nn, f, uv, _pbr(f"room_{i:02d}_floor", floor_tex[i].image, 0.75)))
        wm = _room_walls(layout, i, wall_tex[i].tile)
        v, nn, f, uv = wm.arrays()
        add(f"room_{i:02d}_walls", _mesh(v + shift, nn, f, uv, _pbr(f"room_{i:02d}_walls", wall_tex[i].image, 0.9)))
        cm = _flat(inner, H, False, ceil_tex.tile)
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


# ============================================================================ export


def _add_samplers(tree: dict) -> None:
    """Nearest filtering for the palette, trilinear + REPEAT for tiling room textures."""
    tree["samplers"] = [
        {"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497},  # LINEAR, LINEAR_MIPMAP_LINEAR
        {"magFilter": 9728, "minFilter": 9728, "wrapS": 33071, "wrapT": 33071},  # NEAREST, CLAMP_TO_EDGE
    ]
    textures = tree.get("textures", [])
    for tex in textures:
        tex["sampler"] = 0
    for mat in tree.get("materials", []):
        if mat.get("name") == "palette":
            idx = mat.get("pbrMetallicRoughness", {}).get("baseColorTexture", {}).get("index")
            if idx is not None:
                textures[idx]["sampler"] = 1


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


# ============================================================================ preview


_PLAN_COLORS = {"living_room": (214, 196, 160), "bedroom": (176, 196, 222), "bathroom": (168, 214, 214),
                "kitchen": (222, 206, 150), "dining_room": (222, 180, 170), "office": (190, 214, 170)}


def plan_image(house: GeneratedHouse, px_per_m: float = 48.0) -> Image.Image:
    """A top-down plan for eyeballing a house: rooms (tinted by type), doorways (orange), reachable
    floor for a 0.2 m agent (dots), and object footprints labelled by category (ObjectNav goals in red).
    x runs right, z runs down."""

    layout = house.layout
    if layout is None:
        raise ValueError("plan_image needs a house from generate_house (with its layout)")
    ox, oz = layout.offset
    w_u, d_u = layout.size_u
    pad = 20
    s = px_per_m
    W, H = int(w_u * UNIT * s) + 2 * pad, int(d_u * UNIT * s) + 2 * pad
    img = Image.new("RGB", (W, H), (40, 40, 44))
    dr = ImageDraw.Draw(img)
    font = ImageFont.load_default()

    def px(x: float, z: float) -> tuple[float, float]:  # world metres -> pixels
        return pad + (x - ox) * s, pad + (z - oz) * s

    for i in range(len(layout.rooms_u)):
        r = layout.interior(i)
        dr.rectangle([px(r.x0 + ox, r.z0 + oz), px(r.x1 + ox, r.z1 + oz)], fill=_PLAN_COLORS[layout.types[i]])
    for d in layout.doors:
        r = d.rect()
        dr.rectangle([px(r.x0 + ox, r.z0 + oz), px(r.x1 + ox, r.z1 + oz)], fill=(240, 140, 40))
    # reachable floor
    occ = Occupancy(layout)
    blk = occ.blocked_with([], 0.2)
    for o in house.metadata.objects:
        (x0, y0, z0), (x1, y1, z1) = o.aabb
        if y1 - y0 < 0.02 and y0 < 0.02:
            continue
        i0, i1, j0, j1, m = occ._dilated(Rect(x0 - ox, z0 - oz, x1 - ox, z1 - oz), 0.2)
        blk[i0:i1, j0:j1] |= m
    ii, jj = np.nonzero(~blk)
    for i, j in zip(ii[::1], jj[::1]):
        if (i + j) % 3 == 0 and i % 3 == 0:
            x, z = px((i + 0.5) * UNIT + ox, (j + 0.5) * UNIT + oz)
            dr.point((x, z), fill=(90, 150, 90))
    for o in house.metadata.objects:
        (x0, _, z0), (x1, _, z1) = o.aabb
        goal = o.category in OBJECTNAV_CATEGORIES
        fill = (230, 80, 70) if goal else (120, 120, 130)
        if o.category == "rug":
            dr.rectangle([px(x0, z0), px(x1, z1)], outline=(150, 90, 170), width=2)
            continue
        dr.rectangle([px(x0, z0), px(x1, z1)], fill=fill, outline=(20, 20, 20))
    for o in house.metadata.objects:
        (x0, _, z0), (x1, _, z1) = o.aabb
        cx, cz = px((x0 + x1) / 2, (z0 + z1) / 2)
        label = f"{o.id}:{o.category}"
        tw = dr.textlength(label, font=font)
        dr.text((cx - tw / 2, cz - 5), label, fill=(255, 255, 255) if o.category != "rug" else (200, 160, 230),
                font=font, stroke_width=1, stroke_fill=(0, 0, 0))
    for rm in house.metadata.rooms:
        (x0, _, z0), (x1, _, z1) = rm.aabb
        x, z = px(x0, z0)
        dr.text((x + 4, z + 3), f"room {rm.id}: {rm.type}", fill=(30, 30, 30), font=font)
    dr.text((4, 4), f"{house.metadata.scene_id}  ceiling {layout.ceiling:.2f} m", fill=(230, 230, 230), font=font)
    return img

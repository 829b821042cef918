"""The floor plan: a BSP split of a rectangular footprint into 2-6 rooms, their types, and the
doorways between them, on an integer grid of ``UNIT`` (5 cm) so walls, doors and the occupancy grid
line up exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

UNIT = 0.05  #: layout grid, metres
WALL_T = 0.1  #: wall thickness, metres (2 units)
MIN_ROOM = 2.6  #: smallest room side, metres
MIN_SHARED = 1.7  #: shared wall needed for a doorway (0.9 m door + 0.4 m each side), metres
DOOR_MARGIN = 0.4  #: doorway edge to the end of the shared wall (>= 0.3 m to the wall faces), metres
DOOR_CLEAR = 1.0  #: depth kept free of furniture on both sides of a doorway, metres

ROOM_TYPES: tuple[str, ...] = ("living_room", "bedroom", "bathroom", "kitchen", "dining_room", "office")


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


def random_layout(rng: np.random.Generator) -> HouseLayout:
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

"""Furniture placement: :class:`FurniturePlacer` stands pieces against walls, in corners, on top of or
facing others and around tables, keeping every rule (room bounds, clear doorways, one connected free
floor, ObjectNav objects visible from it, the triangle budget); ``ROOM_PLANS`` furnishes each room
type with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from v4s.envs.scenes import furniture
from v4s.envs.scenes.procedural.layout import HouseLayout, Rect
from v4s.envs.scenes.procedural.occupancy import Occupancy
from v4s.envs.scenes.semantic import OBJECTNAV_CATEGORIES

WALL_GAP = 0.06  #: furniture to wall face, metres
TALL = 0.8  #: objects at least this tall block the view along the floor, metres

# local side of an object -> direction in its own frame (front is +z)
_SIDE_DIRS = {"front": (0, 1), "back": (0, -1), "left": (-1, 0), "right": (1, 0)}
# wall side index k of a room: 0 = low-z wall, 1 = low-x, 2 = high-z, 3 = high-x. An object with its back
# to wall k is rotated by yaw k * 90 degrees (its front then points into the room).


@dataclass(eq=False)
class Placed:
    fur: furniture.Furniture
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


def _footprint(fur: furniture.Furniture, k: int, cx: float, cz: float) -> Rect:
    w, _, d = fur.size
    if k % 2:
        w, d = d, w
    return Rect(cx - w / 2, cz - d / 2, cx + w / 2, cz + d / 2)


class FurniturePlacer:
    """Furnishes one house: every placement goes through :meth:`_check` (the rules) and :meth:`commit`;
    ``placed`` lists the pieces so far, ``tris`` their triangles against ``budget``."""

    def __init__(self, layout: HouseLayout, rng: np.random.Generator, budget: int):
        self.layout = layout
        self.rng = rng
        self.occ = Occupancy(layout)
        self.placed: list[Placed] = []
        self.zones = [d.clear_zone() for d in layout.doors]
        self.budget = budget
        self.tris = 0

    # -- geometry helpers
    def usable(self, room: int) -> Rect:
        return self.layout.interior(room).grow(-(WALL_GAP - 1e-4))

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
        if cand.height > self.layout.ceiling - 0.05:
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
            R = furniture.yaw_quarter(p.k)
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

    def try_at(self, fur: furniture.Furniture, room: int, k: int, cx: float, cz: float, support: Placed | None = None,
               y: float = 0.0) -> Placed | None:
        cand = Placed(fur, room, k % 4, (cx, y, cz), _footprint(fur, k, cx, cz), support)
        if self._check(cand):
            return self.commit(cand)
        return None

    def wall_free(self, fur: furniture.Furniture, room: int,
                  k: int) -> tuple[list[tuple[float, float]], float, float, float]:
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

    def against_wall(self, fur: furniture.Furniture, room: int, tries: int = 8, corner: bool = False,
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

    def anywhere(self, fur: furniture.Furniture, room: int, tries: int = 40, margin: float = 0.3,
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

    def on_top(self, fur: furniture.Furniture, base: Placed, back_gap: float = 0.05) -> Placed | None:
        """Put ``fur`` on ``base`` (same orientation), centred, towards its back."""
        k = base.k
        R = furniture.yaw_quarter(k)
        _, bd = base.fur.size[0], base.fur.size[2]
        fd = fur.size[2]
        off = -(bd / 2 - back_gap - fd / 2)  # local z of fur centre on base
        if off > 0:
            off = 0.0
        v = R @ np.array([0.0, 0.0, off])
        return self.try_at(fur, base.room, k, base.pos[0] + v[0], base.pos[2] + v[2], support=base,
                           y=base.height)

    def facing(self, fur: furniture.Furniture, room: int, target: Placed, dist: float,
               jitter: float = 0.0) -> Placed | None:
        """Place ``fur`` in front of ``target`` at ``dist`` (front edge to front edge), facing it."""
        k = (target.k + 2) % 4
        R = furniture.yaw_quarter(target.k)
        f = R @ np.array([0.0, 0.0, 1.0])
        fx, fz = f[0], f[2]
        t_half = target.fur.size[2] / 2
        c = np.array([target.pos[0], target.pos[2]]) + np.array([fx, fz]) * (t_half + dist + fur.size[2] / 2)
        side = np.array([-fz, fx]) * jitter
        return self.try_at(fur, room, k, float(c[0] + side[0]), float(c[1] + side[1]))

    def around_table(self, tab: Placed, room: int, n: int, style: str | None = None) -> list[Placed]:
        """Up to ``n`` chairs around table ``tab``, each facing it."""
        r = tab.rect
        ch = furniture.chair(self.rng, style or "dining")
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
            fur = ch if self.rng.random() < 0.85 else furniture.chair(self.rng, style or "dining")
            p = self.try_at(fur, room, k, x, z)
            if p is not None:
                out.append(p)
        return out

    def remove(self, p: Placed) -> None:
        """Undo a placement (rebuilds the occupancy from scratch)."""
        self.placed = [q for q in self.placed if q is not p]
        self.tris -= p.fur.num_triangles
        occ = Occupancy(self.layout)
        for q in self.placed:
            if q.support is None and q.category != "rug":
                occ.add(q.rect)
        self.occ = occ


# -- per room type plans: first the defining pieces, then extras while they fit


def _tv_and_sofa(placer: FurniturePlacer, room: int, rng: np.random.Generator,
                 stand_k: int) -> tuple[Placed, Placed] | None:
    """A tv on a stand against wall ``stand_k`` and a sofa facing it (plus maybe a coffee table)."""
    stand = placer.against_wall(furniture.cabinet(rng, "tv_stand", width=float(rng.uniform(1.2, 1.8))), room,
                                sides=[stand_k], t_range=(0.2, 0.8), tries=3)
    if stand is None:
        return None
    tv = placer.on_top(furniture.tv_monitor(rng, width=min(stand.fur.size[0] - 0.1, float(rng.uniform(0.8, 1.4)))),
                       stand)
    if tv is None:
        placer.remove(stand)
        return None
    sofa = furniture.sofa(rng)
    inner = placer.usable(room)
    depth = inner.d if stand.k % 2 == 0 else inner.w
    room_gap = depth - stand.fur.size[2] - sofa.size[2]
    dists = [room_gap] if room_gap <= 3.4 else []  # sofa against the opposite wall
    if room_gap > 1.8:
        dists += [float(rng.uniform(1.8, min(3.0, room_gap))) for _ in range(3)]
    for dist in dists:
        for jitter in (float(rng.uniform(-0.2, 0.2)), float(rng.uniform(-0.8, 0.8))):
            placed = placer.facing(sofa, room, stand, dist, jitter=jitter)
            if placed is None:
                continue
            if dist >= 1.6 and rng.random() < 0.6:
                ct = furniture.table(rng, "coffee")
                if ct.size[2] < dist - 1.0:
                    placer.facing(ct, room, stand, dist / 2 - ct.size[2] / 2, jitter=jitter)
            return tv, placed
    placer.remove(tv)
    placer.remove(stand)
    return None


def _plan_living(placer: FurniturePlacer, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        inner = placer.usable(room)
        # walls facing the most depth first: the sofa needs room in front of the tv
        walls = sorted(range(4), key=lambda k: (-(inner.d if k % 2 == 0 else inner.w), float(rng.random())))
        pair = None
        for k in walls[:3]:
            pair = _tv_and_sofa(placer, room, rng, k)
            if pair is not None:
                break
        placed = pair[1] if pair is not None else None
        if pair is None:  # no tv/sofa arrangement fits: sofa and tv separately
            placed = (placer.against_wall(furniture.sofa(rng), room)
                      or placer.against_wall(furniture.sofa(rng, seats=2), room))
            stand = placer.against_wall(furniture.cabinet(rng, "tv_stand", width=float(rng.uniform(1.1, 1.5))), room)
            if stand is not None and placer.on_top(furniture.tv_monitor(rng, width=min(stand.fur.size[0] - 0.1, 1.0)),
                                                   stand) is None:
                placer.remove(stand)
        if placed is not None and rng.random() < 0.35:  # side table by an arm of the sofa
            st = furniture.table(rng, "side")
            R = furniture.yaw_quarter(placed.k)
            s = float(rng.choice([-1.0, 1.0]))
            off = R @ np.array([s * (placed.fur.size[0] / 2 + 0.05 + st.size[0] / 2), 0.0,
                                -placed.fur.size[2] / 2 + st.size[2] / 2 + 0.05])
            placer.try_at(st, room, placed.k, placed.pos[0] + off[0], placed.pos[2] + off[2])
        return
    if rng.random() < 0.85:
        placer.against_wall(furniture.plant(rng), room, corner=True)
    if rng.random() < 0.5:
        (placer.against_wall(furniture.chair(rng, "armchair"), room)
         or placer.anywhere(furniture.chair(rng, "armchair"), room))
    if rng.random() < 0.45:
        placer.against_wall(furniture.shelf(rng), room)
    if rng.random() < 0.4:
        placer.against_wall(furniture.lamp(rng), room, corner=True)
    if rng.random() < 0.25:
        placer.against_wall(furniture.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.3:
        placer.against_wall(furniture.plant(rng), room, corner=True)
    if rng.random() < 0.5:
        placer.anywhere(furniture.rug(rng), room, margin=0.2)


def _plan_bedroom(placer: FurniturePlacer, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        b = furniture.bed(rng)
        bed = placer.against_wall(b, room, t_range=(0.3, 0.7)) or placer.against_wall(b, room)
        if bed is None:
            b = furniture.bed(rng, double=False)
            bed = placer.against_wall(b, room) or placer.against_wall(b, room)
        if bed is not None and rng.random() < 0.75:
            ns = furniture.cabinet(rng, "nightstand")
            R = furniture.yaw_quarter(bed.k)
            for s in (-1, 1) if rng.random() < 0.6 else (int(rng.choice([-1, 1])),):
                off = R @ np.array([s * (bed.fur.size[0] / 2 + 0.06 + ns.size[0] / 2), 0.0,
                                    -bed.fur.size[2] / 2 + ns.size[2] / 2])
                placer.try_at(ns, room, bed.k, bed.pos[0] + off[0], bed.pos[2] + off[2])
        return
    if rng.random() < 0.6:
        placer.against_wall(furniture.wardrobe(rng), room)
    if rng.random() < 0.6:
        placer.against_wall(furniture.plant(rng), room, corner=True)
    if rng.random() < 0.25:
        desk = placer.against_wall(furniture.table(rng, "desk"), room)
        if desk is not None:
            placer.facing(furniture.chair(rng, str(rng.choice(["dining", "office"]))), room, desk, 0.06)
    if rng.random() < 0.45:
        placer.against_wall(furniture.chair(rng), room)
    if rng.random() < 0.3:
        placer.against_wall(furniture.cabinet(rng, "dresser"), room)
    if rng.random() < 0.15:
        stand = placer.against_wall(furniture.cabinet(rng, "tv_stand", width=float(rng.uniform(0.9, 1.3))), room)
        if stand is not None:
            tv = furniture.tv_monitor(rng, width=min(stand.fur.size[0] - 0.1, float(rng.uniform(0.7, 1.0))))
            if placer.on_top(tv, stand) is None:
                placer.remove(stand)
    if rng.random() < 0.3:
        placer.against_wall(furniture.lamp(rng), room, corner=True)
    if rng.random() < 0.4:
        placer.anywhere(furniture.rug(rng), room, margin=0.2)


def _plan_bathroom(placer: FurniturePlacer, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        placer.against_wall(furniture.toilet(rng), room, tries=12)
        placer.against_wall(furniture.sink(rng), room) or placer.against_wall(furniture.sink(rng), room)
        return
    big = placer.layout.interior(room).area > 9.0
    if rng.random() < (0.85 if big else 0.55):
        placer.against_wall(furniture.bathtub(rng), room, corner=True)
    if rng.random() < (0.5 if big else 0.25):
        placer.against_wall(furniture.plant(rng), room, corner=True)
    if rng.random() < (0.5 if big else 0.2):
        placer.against_wall(furniture.cabinet(rng, "nightstand"), room)
    if big and rng.random() < 0.3:
        placer.against_wall(furniture.shelf(rng), room)
    if rng.random() < 0.4:
        placer.anywhere(furniture.rug(rng, size=(float(rng.uniform(0.5, 0.8)), float(rng.uniform(0.4, 0.6)))), room,
                        margin=0.1)


def _plan_kitchen(placer: FurniturePlacer, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        u = placer.usable(room)
        for _ in range(6):
            k = int(rng.integers(4))
            wall_len = u.w if k % 2 == 0 else u.d
            length = float(min(wall_len - 0.2, rng.uniform(1.4, 3.0)))
            if length < 1.0:
                continue
            c = placer.against_wall(furniture.counter(rng, length=length), room, sides=[k], corner=True, tries=2)
            if c is not None:
                break
        if rng.random() < 0.7:
            (placer.against_wall(furniture.refrigerator(rng), room, corner=True)
             or placer.against_wall(furniture.refrigerator(rng), room))
        return
    if rng.random() < 0.7:
        size = (float(rng.uniform(0.9, 1.4)), float(rng.uniform(0.7, 0.9)))
        tab = placer.anywhere(furniture.table(rng, "dining", size=size), room, margin=0.6)
        if tab is not None:
            placer.around_table(tab, room, int(rng.integers(2, 5)))
    if rng.random() < 0.5:
        placer.against_wall(furniture.plant(rng), room, corner=True)
    if rng.random() < 0.25:
        placer.against_wall(furniture.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.2:
        placer.against_wall(furniture.shelf(rng), room)


def _plan_dining(placer: FurniturePlacer, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        tab = placer.anywhere(furniture.table(rng, "dining"), room, margin=0.65)
        if tab is None:
            size = (float(rng.uniform(0.8, 1.1)), float(rng.uniform(0.7, 0.8)))
            tab = placer.anywhere(furniture.table(rng, "dining", size=size), room, margin=0.5)
        if tab is not None:
            placer.around_table(tab, room, int(rng.integers(2, 7)))
        return
    if rng.random() < 0.6:
        placer.against_wall(furniture.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.7:
        placer.against_wall(furniture.plant(rng), room, corner=True)
    if rng.random() < 0.3:
        placer.against_wall(furniture.shelf(rng), room)
    if rng.random() < 0.3:
        placer.against_wall(furniture.lamp(rng), room, corner=True)


def _plan_office(placer: FurniturePlacer, room: int, rng: np.random.Generator, extras: bool) -> None:
    if not extras:
        desk = placer.against_wall(furniture.table(rng, "desk"), room)
        if desk is not None:
            ch = furniture.chair(rng, "office" if rng.random() < 0.7 else "dining")
            if placer.facing(ch, room, desk, float(rng.uniform(0.04, 0.12))) is None:
                placer.against_wall(ch, room) or placer.anywhere(ch, room)
            if rng.random() < 0.65:
                placer.on_top(furniture.tv_monitor(rng, monitor=True), desk, back_gap=0.08)
        if rng.random() < 0.7:
            placer.against_wall(furniture.shelf(rng), room)
        return
    if rng.random() < 0.6:
        placer.against_wall(furniture.plant(rng), room, corner=True)
    if rng.random() < 0.4:
        placer.against_wall(furniture.cabinet(rng, "sideboard"), room)
    if rng.random() < 0.2:
        placer.against_wall(furniture.sofa(rng, seats=2), room)
    if rng.random() < 0.2:
        placer.against_wall(furniture.chair(rng, "armchair"), room)
    if rng.random() < 0.3:
        placer.against_wall(furniture.lamp(rng), room, corner=True)


ROOM_PLANS: dict[str, Callable[[FurniturePlacer, int, np.random.Generator, bool], None]] = {
    "living_room": _plan_living, "bedroom": _plan_bedroom, "bathroom": _plan_bathroom,
    "kitchen": _plan_kitchen, "dining_room": _plan_dining, "office": _plan_office,
}

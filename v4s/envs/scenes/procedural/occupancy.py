"""The house floor on the layout grid: walls and furniture footprints grown by the agent radius,
connectivity of the free floor, visibility of objects from it, and :func:`navigability`, the check
of a finished house."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from v4s.envs.scenes.procedural.layout import UNIT, HouseLayout, Rect
from v4s.envs.scenes.semantic import OBJECTNAV_CATEGORIES, SceneObject

#: agent radii the connectivity check runs at, metres: habitat's 0.18 and a band around it, so that
#: no radius in [0.15, 0.2] sees an island (a pocket can close at one radius and not at another).
#: The first is the radius reachability (visibility) is judged at.
NAV_RADII = (0.2, 0.18, 0.15, 0.16, 0.17, 0.19)
VISIBLE_RANGE = 1.0  #: an ObjectNav object needs reachable floor this close on a visible side, metres


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

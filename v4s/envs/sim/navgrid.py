"""A navigation grid built from a triangle mesh, answering Habitat's PathFinder queries.

The grid has one layer per floor level, in cells of ``cell_size`` metres on the xz plane.
Floor levels are the heights holding the most upward-facing walkable area (area, not triangle
count: a floor of two triangles outweighs a densely meshed desk); a storey lies at least
``MIN_STOREY_HEIGHT`` above or below every other and holds at least ``MIN_LEVEL_AREA_FRACTION``
of the largest one's area, so furniture tops belong to the floor they stand on. A cell of a level
is *navigable* when it has walkable floor (an upward-facing surface within ``max_climb`` of the
level) and no geometry between ``max_climb`` and ``agent_height`` above that floor lies closer than
``agent_radius`` to its centre. A point belongs to the level nearest its height; levels are not
joined (no stairs), so a path from one to another is unreachable.

Shortest paths are taut strings: Dijkstra on a 16-connected cell graph picks the
route, then the path is pulled tight with line-of-sight checks, so a geodesic
distance across open floor equals the Euclidean distance (no 4- or 8-connected
staircase artefacts), and every geodesic is at least the Euclidean distance.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from v4s.envs.sim.base import MultiGoalShortestPath, ShortestPath

#: the 16-connected graph: one (dz, dx) offset per undirected edge, with the cells the
#: straight move between the two cell centres passes through (all must be navigable)
_MOVES: tuple[tuple[tuple[int, int], tuple[tuple[int, int], ...]], ...] = (
    ((0, 1), ()), ((1, 0), ()),
    ((1, 1), ((0, 1), (1, 0))), ((1, -1), ((0, -1), (1, 0))),
    ((1, 2), ((0, 1), (1, 1))), ((2, 1), ((1, 0), (1, 1))),
    ((1, -2), ((0, -1), (1, -1))), ((2, -1), ((1, 0), (1, -1))),
)
#: how far ``snap_point`` looks for navigable floor, metres (horizontally)
SNAP_RADIUS = 2.0
#: a second floor level lies at least this far (metres) above or below every other; walkable surfaces
#: nearer a floor (tables, beds, counters, wardrobe tops) are furniture standing on it
MIN_STOREY_HEIGHT = 2.0
#: a second floor level holds at least this fraction of the largest level's walkable area
MIN_LEVEL_AREA_FRACTION = 0.1
#: habitat-lab's ISLAND_RADIUS_LIMIT (metres): the default start lies on an island at least this large
ISLAND_RADIUS_LIMIT = 1.5


class NavGridError(ValueError):
    """A mesh with no navigable area for the agent: no walkable floor, or none with room for the agent."""


@dataclass
class NavGridSettings:
    """Agent and grid parameters the grid is built for (metres, degrees)."""

    agent_radius: float = 0.18
    agent_height: float = 0.88
    max_climb: float = 0.2
    max_slope: float = 45.0
    cell_size: float = 0.05
    floor_height: float | None = None  #: one level at this height; None finds every floor level by area


def _sample_triangles(triangles: np.ndarray, spacing: float) -> np.ndarray:
    """Points covering each triangle at most ``spacing`` apart: (P, 3).

    Triangles are grouped by subdivision count so each group is one vectorised product
    of barycentric weights with its corners.
    """
    edges = np.stack([triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 1],
                      triangles[:, 0] - triangles[:, 2]], axis=1)
    longest = np.linalg.norm(edges, axis=2).max(axis=1)
    counts = np.maximum(1, np.ceil(longest / spacing)).astype(np.int64)
    out = []
    for n in np.unique(counts):
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = (i + j) <= n
        u, v = i[keep] / n, j[keep] / n
        weights = np.stack([1.0 - u - v, u, v], axis=1)  # (S, 3)
        group = triangles[counts == n]  # (G, 3, 3)
        out.append(np.einsum("sk,gkd->gsd", weights, group).reshape(-1, 3))
    return np.concatenate(out) if out else np.zeros((0, 3))


def _band_segments(triangles: np.ndarray, normals: np.ndarray, low: float, high: float,
                   spacing: float) -> np.ndarray:
    """Points (P, 3) along the footprints of vertical triangles where they cross the height band
    [low, high]: a vertical triangle's footprint is a segment, so it needs samples along one
    dimension only, not over its whole area."""
    if len(triangles) == 0:
        return np.zeros((0, 3))
    candidates, valid = [triangles], [(triangles[..., 1] >= low) & (triangles[..., 1] <= high)]
    for i, j in ((0, 1), (1, 2), (2, 0)):
        p, q = triangles[:, i], triangles[:, j]
        for level in (low, high):
            dy = q[:, 1] - p[:, 1]
            crosses = (p[:, 1] - level) * (q[:, 1] - level) < 0
            t = np.where(crosses, (level - p[:, 1]) / np.where(crosses, dy, 1.0), 0.0)
            candidates.append((p + t[:, None] * (q - p))[:, None])
            valid.append(crosses[:, None])
    points = np.concatenate(candidates, axis=1)  # (F, 9, 3)
    ok = np.concatenate(valid, axis=1)  # (F, 9)
    along = np.stack([-normals[:, 2], normals[:, 0]], axis=1)  # footprint direction on the xz plane
    along /= np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-12)
    t = points[..., 0] * along[:, None, 0] + points[..., 2] * along[:, None, 1]
    first = np.argmin(np.where(ok, t, np.inf), axis=1)
    last = np.argmax(np.where(ok, t, -np.inf), axis=1)
    keep = ok.any(axis=1)
    rows = np.arange(len(points))[keep]
    a, b = points[rows, first[keep]], points[rows, last[keep]]
    counts = np.ceil(np.linalg.norm((b - a)[:, [0, 2]], axis=1) / spacing).astype(np.int64) + 1
    segment = np.repeat(np.arange(len(a)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    frac = offsets / np.maximum(counts[segment] - 1, 1)
    out = a[segment] + frac[:, None] * (b - a)[segment]
    out[:, 1] = (low + high) / 2.0  # inside the band by construction
    return out


def _floor_levels(triangles: np.ndarray, areas: np.ndarray, max_climb: float,
                  bin_size: float = 0.05) -> list[tuple[float, float]]:
    """The floor levels among upward-facing walkable triangles (T, 3, 3) of horizontal ``areas`` (T,) m²:
    ``(height, area)`` pairs, metres and m², largest first.

    A level's area is the walkable area within ``max_climb`` of its height (the band its floor cells
    come from); its height is the area-weighted median height of those triangles.
    """
    heights = triangles[:, :, 1].mean(axis=1)
    bins = np.floor(heights / bin_size).astype(np.int64)
    first = int(bins.min())
    per_bin = np.bincount(bins - first, weights=areas)
    reach = int(round(max_climb / bin_size))
    band = np.convolve(np.pad(per_bin, reach), np.ones(2 * reach + 1), mode="valid")  # area within max_climb
    centres = (np.arange(len(band)) + first + 0.5) * bin_size
    levels: list[tuple[float, float]] = []
    open_bins = np.ones(len(band), dtype=bool)
    while open_bins.any():
        best = int(np.argmax(np.where(open_bins, band, -1.0)))
        area = float(band[best])
        if area <= 0.0 or (levels and area < MIN_LEVEL_AREA_FRACTION * levels[0][1]):
            break
        member = np.abs(heights - centres[best]) <= max_climb + bin_size / 2
        order = np.argsort(heights[member], kind="stable")
        cumulative = np.cumsum(areas[member][order])
        height = float(heights[member][order][np.searchsorted(cumulative, cumulative[-1] / 2)])
        levels.append((height, area))
        open_bins &= np.abs(centres - height) >= MIN_STOREY_HEIGHT
    return levels


def _level_layer(tri: np.ndarray, normal: np.ndarray, walkable: np.ndarray, level: float, s: NavGridSettings,
                 origin: tuple[float, float], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One level's ``navigable`` (nz, nx) bool, ``floor`` (nz, nx) float32 metres (nan: no floor) and
    ``clearance`` (nz, nx) float32 metres, from the mesh's triangles (F, 3, 3) with unit normals (F, 3)."""
    nz, nx = shape
    # only geometry near the level matters
    ymin, ymax = tri[:, :, 1].min(axis=1), tri[:, :, 1].max(axis=1)
    near = (ymax >= level - s.max_climb) & (ymin <= level + s.max_climb + s.agent_height)
    tri, walkable, normal = tri[near], walkable[near], normal[near]

    def cells_of(p: np.ndarray) -> np.ndarray:
        ix = np.floor((p[:, 0] - origin[0]) / s.cell_size).astype(np.int64)
        iz = np.floor((p[:, 2] - origin[1]) / s.cell_size).astype(np.int64)
        return np.clip(iz, 0, nz - 1) * nx + np.clip(ix, 0, nx - 1)

    spacing = s.cell_size * 0.5
    floor = np.full(nz * nx, -np.inf)
    walk_points = _sample_triangles(tri[walkable], spacing)
    fp = walk_points[np.abs(walk_points[:, 1] - level) <= s.max_climb]
    np.maximum.at(floor, cells_of(fp), fp[:, 1])
    has_floor = np.isfinite(floor)

    vertical = np.abs(normal[:, 1]) < 0.02
    pts = np.concatenate([
        walk_points,
        _sample_triangles(tri[~walkable & ~vertical], spacing),
        _band_segments(tri[vertical], normal[vertical], level + s.max_climb + 1e-6,
                       level + s.agent_height - 1e-6, spacing),
    ])
    cells = cells_of(pts)
    base = np.where(has_floor[cells], floor[cells], level)
    rel = pts[:, 1] - base
    obstacle = np.zeros(nz * nx, dtype=bool)
    obstacle[cells[(rel > s.max_climb) & (rel < s.agent_height)]] = True

    free = (has_floor & ~obstacle).reshape(nz, nx)
    # distance from a cell centre to the nearest blocked cell's near edge
    clearance = (ndimage.distance_transform_edt(free) - 0.5) * s.cell_size
    clearance = np.maximum(clearance, 0.0).astype(np.float32)
    navigable = free & (clearance >= s.agent_radius)
    floor_grid = np.where(has_floor, floor, np.nan).reshape(nz, nx).astype(np.float32)
    return navigable, floor_grid, clearance


class NavGrid:
    """Navigable cells, clearance and floor heights of every floor level; the PathFinder of EmbeddedSim.

    Arrays are indexed ``[level, iz, ix]``; ``levels`` (L,) holds the levels' heights, lowest first.
    Cell ``(k, iz, ix)`` has its centre at
    ``(origin_x + (ix + 0.5) * cell_size, floor[k, iz, ix], origin_z + (iz + 0.5) * cell_size)``.
    Every level has navigable cells.
    """

    def __init__(self, navigable: np.ndarray, floor: np.ndarray, clearance: np.ndarray,
                 origin: tuple[float, float], settings: NavGridSettings, levels: Sequence[float]):
        self.settings = settings
        self.cell_size = settings.cell_size
        self.navigable = navigable  # (L, nz, nx) bool
        self.floor = floor  # (L, nz, nx) float32 metres, nan where no floor
        self.clearance = clearance  # (L, nz, nx) float32 metres from cell centre to nearest blocked cell
        self.origin = origin  # (x, z) of the grid corner
        self.levels = np.asarray(levels, dtype=np.float64)  # (L,) floor heights the layers were built for
        self._rng = np.random.default_rng(0)
        # gradient of the clearance: points away from the nearest obstacle, used for sliding
        self._grad_z, self._grad_x = np.gradient(clearance.astype(np.float32), axis=(1, 2))
        # every cell -> its level's nearest navigable cell, for snapping: (L, 2, nz, nx)
        self._nearest = np.stack([ndimage.distance_transform_edt(~layer, return_indices=True)[1]
                                  for layer in navigable]).astype(np.int32)
        self._node_of = np.full(navigable.shape, -1, dtype=np.int64)
        self._cells = np.argwhere(navigable)  # (N, 3) [level, iz, ix]
        self._node_of[navigable] = np.arange(len(self._cells))
        self._graph: sparse.csr_matrix | None = None
        self._islands: tuple[np.ndarray, np.ndarray] | None = None
        self._goal_nodes: OrderedDict[bytes, list[tuple[int, tuple[int, np.ndarray]]]] = OrderedDict()
        self._fields: OrderedDict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    # ------------------------------------------------------------------ building
    @classmethod
    def from_mesh(cls, positions: np.ndarray, faces: np.ndarray, settings: NavGridSettings) -> NavGrid:
        """Build from world-frame vertices (V, 3) and triangle indices (F, 3), wound counter-clockwise
        seen from the front (glTF's rule), so that floors face up.

        Raises NavGridError when the mesh leaves the agent no navigable cell."""
        s = settings
        tri = positions[faces].astype(np.float64)  # (F, 3, 3)
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(normal, axis=1)
        valid = length > 1e-12
        tri, normal, length = tri[valid], normal[valid] / length[valid, None], length[valid]
        if len(tri) == 0:
            raise NavGridError("the mesh has no triangles with area")
        # a floor's cells take walkable surfaces of either winding; levels are found on upward-facing ones
        walkable = np.abs(normal[:, 1]) >= math.cos(math.radians(s.max_slope))
        if not walkable.any():
            raise NavGridError("the mesh has no walkable floor (no upward-facing surface flatter than "
                               f"max_slope {s.max_slope} degrees)")
        if s.floor_height is not None:
            candidates = [(float(s.floor_height), math.nan)]
        else:
            up = walkable & (normal[:, 1] > 0)
            if not up.any():  # wound inside out: the floors face down
                up = walkable
            candidates = _floor_levels(tri[up], 0.5 * length[up] * np.abs(normal[up, 1]), s.max_climb)

        lo = positions.min(axis=0)
        hi = positions.max(axis=0)
        pad = 2 * s.cell_size
        origin = (float(lo[0] - pad), float(lo[2] - pad))
        nx = int(math.ceil((hi[0] - lo[0] + 2 * pad) / s.cell_size))
        nz = int(math.ceil((hi[2] - lo[2] + 2 * pad) / s.cell_size))
        layers = []
        for level, _ in sorted(candidates):
            layer = _level_layer(tri, normal, walkable, level, s, origin, (nz, nx))
            if layer[0].any():
                layers.append((level, layer))
        if not layers:
            found = ", ".join(f"{h:.2f} m" + ("" if math.isnan(a) else f" ({a:.1f} m²)") for h, a in candidates)
            floors = "floor at height" if len(candidates) == 1 else "floors at heights"
            verb = "has" if len(candidates) == 1 else "have"
            raise NavGridError(f"the walkable {floors} {found} {verb} no spot {s.agent_radius} m from every wall "
                               f"and floor edge with {s.agent_height} m of headroom")
        navigable, floor, clearance = (np.stack(arrays) for arrays in zip(*(layer for _, layer in layers)))
        return cls(navigable, floor, clearance, origin, s, [level for level, _ in layers])

    # ------------------------------------------------------------------ cells
    def level_of(self, y: float) -> int:
        """Index of the floor level nearest the height ``y`` (metres)."""
        if len(self.levels) == 1:  # the common case, asked several times per step
            return 0
        return int(np.argmin(np.abs(self.levels - float(y))))

    def cell_of(self, x: float, z: float) -> tuple[int, int] | None:
        ix = math.floor((x - self.origin[0]) / self.cell_size)
        iz = math.floor((z - self.origin[1]) / self.cell_size)
        if 0 <= iz < self.navigable.shape[1] and 0 <= ix < self.navigable.shape[2]:
            return iz, ix
        return None

    def cell_center(self, level: int, iz: int, ix: int) -> np.ndarray:
        y = self.floor[level, iz, ix]
        return np.array([self.origin[0] + (ix + 0.5) * self.cell_size,
                         self.levels[level] if np.isnan(y) else float(y),
                         self.origin[1] + (iz + 0.5) * self.cell_size])

    def floor_at(self, x: float, z: float, y: float | None = None) -> float:
        """Floor height under (x, z) on the level nearest the height ``y``, or that level's height off its
        floor. ``y`` may be left out on a grid of one level."""
        if y is None:
            if len(self.levels) > 1:
                raise ValueError(f"floor_at({x}, {z}): this scene has {len(self.levels)} floor levels (at heights "
                                 f"{np.round(self.levels, 2).tolist()} m); pass y, the point's height, to pick one")
            y = self.levels[0]
        return self._floor_on(self.level_of(y), x, z)

    def _floor_on(self, level: int, x: float, z: float) -> float:
        cell = self.cell_of(x, z)
        if cell is None or np.isnan(self.floor[level][cell]):
            return float(self.levels[level])
        return float(self.floor[level][cell])

    def free_along(self, start: np.ndarray, end: np.ndarray) -> float:
        """Fraction in [0, 1] of the segment start -> end (xz, on the level of ``start``) walkable before the
        first non-navigable cell."""
        x0, z0 = float(start[0]) - self.origin[0], float(start[2]) - self.origin[1]
        dx, dz = float(end[0]) - float(start[0]), float(end[2]) - float(start[2])
        samples = max(1, math.ceil(math.hypot(dx, dz) / (self.cell_size * 0.5)))
        navigable = self.navigable[self.level_of(start[1])]
        nz, nx = navigable.shape
        cell = self.cell_size
        if samples > 32:  # long segments (line of sight): vectorised
            t = np.arange(samples + 1) / samples
            ix = np.floor((x0 + t * dx) / cell).astype(np.int64)
            iz = np.floor((z0 + t * dz) / cell).astype(np.int64)
            ok = (ix >= 0) & (ix < nx) & (iz >= 0) & (iz < nz)
            ok[ok] = navigable[iz[ok], ix[ok]]
            first = int(np.argmin(ok))
            return 1.0 if ok[first] else (0.0 if first == 0 else (first - 1) / samples)
        # a plain loop: for the few samples of one step it is several times faster than numpy
        for i in range(samples + 1):
            t = i / samples
            ix, iz = math.floor((x0 + t * dx) / cell), math.floor((z0 + t * dz) / cell)
            if not (0 <= ix < nx and 0 <= iz < nz and navigable[iz, ix]):
                return 0.0 if i == 0 else (i - 1) / samples
        return 1.0

    def try_step_no_sliding(self, start: Sequence[float], end: Sequence[float]) -> np.ndarray:
        """Where an agent walking from ``start`` towards ``end`` stops: at ``end``, or before the first
        non-navigable cell (habitat-sim's name). Feet on the floor of the level of ``start``: (3,)."""
        start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
        stop = start + (end - start) * self.free_along(start, end)
        stop[1] = self._floor_on(self.level_of(start[1]), stop[0], stop[2])
        return stop

    def try_step(self, start: Sequence[float], end: Sequence[float]) -> np.ndarray:
        """Like :meth:`try_step_no_sliding`, but the motion left after hitting an obstacle slides along it
        (habitat-sim's ``allow_sliding``): it loses its component into the obstacle, whose normal comes from
        the clearance gradient; in corners, where that is unreliable, the motion's x and z components are
        tried too, and the slide that gets furthest along the motion wins. (3,)."""
        start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
        motion = end - start
        fraction = self.free_along(start, end)
        stop = start + motion * fraction
        if fraction < 1.0:
            rest = motion * (1.0 - fraction)
            normal = self.away_from_walls(stop)
            candidates = [rest * [1.0, 0.0, 0.0], rest * [0.0, 0.0, 1.0]]
            into = float(rest @ normal)
            if into < 0.0:
                candidates.insert(0, rest - into * normal)
            best, progress = stop, 0.0
            for slide in candidates:
                slid = stop + slide * self.free_along(stop, stop + slide)
                gain = float((slid - stop) @ rest)
                if gain > progress + 1e-9:
                    best, progress = slid, gain
            stop = best
        stop[1] = self._floor_on(self.level_of(start[1]), stop[0], stop[2])
        return stop

    def line_of_sight(self, a: np.ndarray, b: np.ndarray) -> bool:
        return self.free_along(a, b) >= 1.0

    def away_from_walls(self, point: np.ndarray) -> np.ndarray:
        """Unit xz vector (3,) pointing away from the nearest obstacle at ``point`` (zero if unknown)."""
        cell = self.cell_of(point[0], point[2])
        if cell is None:
            return np.zeros(3)
        level = self.level_of(point[1])
        gx, gz = float(self._grad_x[level][cell]), float(self._grad_z[level][cell])
        norm = math.hypot(gx, gz)
        return np.zeros(3) if norm < 1e-9 else np.array([gx / norm, 0.0, gz / norm])

    def default_start(self) -> np.ndarray:
        """Where an agent stands when nothing says otherwise (3,): the navigable point nearest the centre of
        the navigable bounds on an island of radius at least ``ISLAND_RADIUS_LIMIT`` (habitat-lab's rule for
        episode starts), or on the largest island when none is that large."""
        lo, hi = self.get_bounds()
        centre = (lo + hi) / 2.0
        snapped = self.snap_point(centre)
        if not np.isnan(snapped[0]) and self.island_radius(snapped) >= ISLAND_RADIUS_LIMIT:
            return snapped
        labels, radii = self._island_labels()
        wanted = radii >= min(ISLAND_RADIUS_LIMIT, float(radii.max()))
        wanted[0] = False  # label 0: not navigable
        cells = np.argwhere(wanted[labels])  # (M, 3) [level, iz, ix]
        points = np.stack([self.origin[0] + (cells[:, 2] + 0.5) * self.cell_size,
                           self.floor[tuple(cells.T)].astype(np.float64),
                           self.origin[1] + (cells[:, 1] + 0.5) * self.cell_size], axis=1)
        return points[int(np.argmin(((points - centre) ** 2).sum(axis=1)))]

    # ------------------------------------------------------------------ Habitat PathFinder API
    @property
    def is_loaded(self) -> bool:
        return True

    @property
    def navigable_area(self) -> float:
        """Navigable floor area of all levels, square metres."""
        return float(self.navigable.sum()) * self.cell_size ** 2

    def get_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners (3,) of the navigable area."""
        lo_cell, hi_cell = self._cells[:, 1:].min(axis=0), self._cells[:, 1:].max(axis=0)
        lo = self.cell_center(0, *lo_cell) - [self.cell_size / 2, 0, self.cell_size / 2]
        hi = self.cell_center(0, *hi_cell) + [self.cell_size / 2, 0, self.cell_size / 2]
        y = self.floor[self.navigable]
        lo[1], hi[1] = float(np.nanmin(y)), float(np.nanmax(y))
        return lo, hi

    def get_topdown_view(self, meters_per_pixel: float, height: float, eps: float = 0.5) -> np.ndarray:
        """Navigability (rows: z, columns: x, from the lower bound of ``get_bounds``) sampled every
        ``meters_per_pixel``, as habitat-sim's; ``height`` picks the level (within ``eps`` metres)."""
        lo, hi = self.get_bounds()
        level = self.level_of(height)
        xs = lo[0] + (np.arange(int(math.ceil((hi[0] - lo[0]) / meters_per_pixel))) + 0.5) * meters_per_pixel
        zs = lo[2] + (np.arange(int(math.ceil((hi[2] - lo[2]) / meters_per_pixel))) + 0.5) * meters_per_pixel
        ix = np.clip(np.floor((xs - self.origin[0]) / self.cell_size).astype(np.int64), 0, self.navigable.shape[2] - 1)
        iz = np.clip(np.floor((zs - self.origin[1]) / self.cell_size).astype(np.int64), 0, self.navigable.shape[1] - 1)
        view = self.navigable[level][np.ix_(iz, ix)]
        floor = self.floor[level][np.ix_(iz, ix)]
        return view & (np.abs(np.nan_to_num(floor, nan=np.inf) - height) <= eps)

    def is_navigable(self, pt: Sequence[float], max_y_delta: float = 0.5) -> bool:
        x, y, z = (float(v) for v in pt)
        cell = self.cell_of(x, z)
        level = self.level_of(y)
        if cell is None or not self.navigable[level][cell]:
            return False
        return abs(y - float(self.floor[level][cell])) <= max_y_delta

    def snap_point(self, pt: Sequence[float]) -> np.ndarray:
        """Nearest navigable point to ``pt`` on the level nearest its height, within ``SNAP_RADIUS``
        horizontally; NaNs when none (like Habitat)."""
        p = np.asarray(pt, dtype=np.float64)
        level = self.level_of(p[1])
        if self.is_navigable(p):
            return np.array([p[0], self._floor_on(level, p[0], p[2]), p[2]])
        _, nz, nx = self.navigable.shape
        ix = min(max(math.floor((p[0] - self.origin[0]) / self.cell_size), 0), nx - 1)
        iz = min(max(math.floor((p[2] - self.origin[1]) / self.cell_size), 0), nz - 1)
        nearest = self._nearest[level]
        snapped = self.cell_center(level, int(nearest[0, iz, ix]), int(nearest[1, iz, ix]))
        if math.hypot(snapped[0] - p[0], snapped[2] - p[2]) > SNAP_RADIUS:
            return np.full(3, np.nan)
        return snapped

    def island_radius(self, pt: Sequence[float]) -> float:
        """Radius, metres, of the navigable island holding ``pt`` (largest distance from the island's
        centroid to its cells); 0 off the navigable area. Habitat's episode samplers ask for >= 1.5."""
        cell = self.cell_of(float(pt[0]), float(pt[2]))
        level = self.level_of(float(pt[1]))
        if cell is None or not self.navigable[level][cell]:
            return 0.0
        labels, radii = self._island_labels()
        return float(radii[labels[level][cell]])

    def _island_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Island label of every cell (L, nz, nx) (0: not navigable; islands never span levels) and each
        label's radius in metres (count + 1,)."""
        if self._islands is None:
            labels = np.zeros(self.navigable.shape, dtype=np.int64)
            count = 0
            for level, layer in enumerate(self.navigable):
                layer_labels, n = ndimage.label(layer, structure=np.ones((3, 3)))
                labels[level] = np.where(layer_labels > 0, layer_labels + count, 0)
                count += n
            cells = self._cells  # row-major, so each island's cells keep the order they have on its level
            label_of = labels[tuple(cells.T)]
            order = np.argsort(label_of, kind="stable")
            starts = np.searchsorted(label_of[order], np.arange(1, count + 2))
            members_of = cells[order][:, 1:]
            radii = np.zeros(count + 1)
            for label in range(1, count + 1):
                members = members_of[starts[label - 1]:starts[label]].astype(np.float64)
                radii[label] = np.sqrt(((members - members.mean(axis=0)) ** 2).sum(axis=1)).max() * self.cell_size
            self._islands = (labels, radii)
        return self._islands

    def seed(self, new_seed: int) -> None:
        self._rng = np.random.default_rng(new_seed)

    def get_random_navigable_point(self) -> np.ndarray:
        """A point drawn uniformly over the navigable area of all levels."""
        level, iz, ix = self._cells[self._rng.integers(len(self._cells))]
        jitter = (self._rng.random(2) - 0.5) * self.cell_size
        p = self.cell_center(level, iz, ix)
        p[0] += jitter[0]
        p[2] += jitter[1]
        return p

    def find_path(self, path: ShortestPath | MultiGoalShortestPath) -> bool:
        """Fill ``path.points`` and ``path.geodesic_distance``; False (and inf) when unreachable."""
        ends = path.requested_ends if isinstance(path, MultiGoalShortestPath) else [path.requested_end]
        points, distance, index = self._shortest_path(path.requested_start, ends)
        path.points, path.geodesic_distance = points, distance
        if isinstance(path, MultiGoalShortestPath):
            path.closest_end_point_index = index
        return math.isfinite(distance)

    def geodesic_distance(self, start: Sequence[float], end: Sequence[float] | Sequence[Sequence[float]]) -> float:
        """Shortest walkable distance, metres, from ``start`` to ``end`` (a point, or the nearest of
        several points); inf when unreachable."""
        ends = np.asarray(end, dtype=np.float64)
        ends = ends.reshape(-1, 3)
        return self._shortest_path(start, list(ends))[1]

    # ------------------------------------------------------------------ internals
    def _node(self, p: np.ndarray) -> tuple[int, np.ndarray] | None:
        """Graph node of ``p`` (snapped when off the grid) and the point the path uses for it."""
        snapped = self.snap_point(p)
        if np.isnan(snapped[0]):
            return None
        cell = self.cell_of(snapped[0], snapped[2])
        if cell is None:
            return None
        node = self._node_of[self.level_of(p[1])][cell]
        return None if node < 0 else (int(node), snapped)

    def _graph_csr(self) -> sparse.csr_matrix:
        if self._graph is None:
            rows, cols, weights = [], [], []
            for nav, node_of in zip(self.navigable, self._node_of):  # no edges between levels
                nz, nx = nav.shape
                for (dz, dx), through in _MOVES:
                    z0, z1 = max(0, -dz), nz - max(0, dz)
                    x0, x1 = max(0, -dx), nx - max(0, dx)
                    ok = nav[z0:z1, x0:x1].copy()
                    for cz, cx in ((dz, dx), *through):
                        ok &= nav[z0 + cz:z1 + cz, x0 + cx:x1 + cx]
                    az, ax = np.nonzero(ok)
                    az, ax = az + z0, ax + x0
                    rows.append(node_of[az, ax])
                    cols.append(node_of[az + dz, ax + dx])
                    weights.append(np.full(len(az), math.hypot(dz, dx) * self.cell_size))
            n = len(self._cells)
            self._graph = sparse.csr_matrix(
                (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        return self._graph

    def _field(self, goal_nodes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dijkstra distances, predecessors and nearest-source of every node to ``goal_nodes`` (cached)."""
        if goal_nodes in self._fields:
            self._fields.move_to_end(goal_nodes)
            return self._fields[goal_nodes]
        dist, pred, source = csgraph.dijkstra(self._graph_csr(), directed=False, indices=list(goal_nodes),
                                              min_only=True, return_predecessors=True)
        self._fields[goal_nodes] = (dist, pred, source)
        if len(self._fields) > 16:
            self._fields.popitem(last=False)
        return dist, pred, source

    def _shortest_path(self, start: Sequence[float] | None, ends: list) -> tuple[list[np.ndarray], float, int]:
        if start is None or not len(ends):
            raise ValueError("find_path needs requested_start and at least one requested end")
        s = self._node(np.asarray(start, dtype=np.float64))
        ends = np.asarray(ends, dtype=np.float64).reshape(-1, 3)
        key = ends.tobytes()
        valid = self._goal_nodes.get(key)
        if valid is None:  # snapping many goals (view points) is the costly part: once per goal set
            valid = [(i, g) for i, g in enumerate(self._node(e) for e in ends) if g is not None]
            self._goal_nodes[key] = valid
            if len(self._goal_nodes) > 64:
                self._goal_nodes.popitem(last=False)
        if s is None or not valid:
            return [], math.inf, -1
        start_node, start_pt = s
        dist, pred, source = self._field(tuple(sorted({g[0] for _, g in valid})))
        if not math.isfinite(dist[start_node]):
            return [], math.inf, -1
        goal_node = int(source[start_node])
        index, (_, goal_pt) = next((i, g) for i, g in valid if g[0] == goal_node)
        if self.line_of_sight(start_pt, goal_pt):
            points = [start_pt, goal_pt]
        else:
            chain = [start_node]
            while chain[-1] != goal_node:
                chain.append(int(pred[chain[-1]]))
            cells = self._cells[chain]
            waypoints = [self.cell_center(level, iz, ix) for level, iz, ix in cells[1:-1]]
            points = self._pull_taut([start_pt, *waypoints, goal_pt])
        length = float(sum(np.linalg.norm(b - a) for a, b in zip(points[:-1], points[1:])))
        return points, length, index

    def _pull_taut(self, points: list[np.ndarray]) -> list[np.ndarray]:
        """Drop every waypoint that can be skipped with a straight walkable segment."""
        out = [points[0]]
        i, last = 0, len(points) - 1
        while i < last:
            # exponential then binary search for the farthest waypoint visible from points[i]
            step, good = 1, i + 1
            while i + step <= last and self.line_of_sight(points[i], points[i + step]):
                good = i + step
                step *= 2
            lo, hi = good, min(i + step, last + 1)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if self.line_of_sight(points[i], points[mid]):
                    lo = mid
                else:
                    hi = mid
            i = lo
            out.append(points[i])
        return out

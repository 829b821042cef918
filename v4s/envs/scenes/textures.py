"""Procedural, seamlessly tiling texture images for generated houses.

Every generator is vectorised numpy on an ``(N, N)`` pixel grid and returns an
``(N, N, 3)`` float image in [0, 1]; :func:`to_image` turns it into a PIL image.
Patterns use an integer number of repeats per tile and noise is made periodic
(filtered in the Fourier domain), so the images tile with REPEAT wrapping.

Image row 0 is the top of the texture. A texture covers ``tile`` metres of surface
per repeat (:class:`Texture`).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: Wall patterns (each room of a house gets a different one while they last).
WALL_STYLES: tuple[str, ...] = ("plaster", "stripes", "dots", "brick", "panel", "tiles", "diamond", "trellis")
#: Floor patterns.
FLOOR_STYLES: tuple[str, ...] = ("planks", "checker", "tiles", "carpet", "stone", "parquet", "terrazzo")

#: Default texture size in pixels (square).
TEX_SIZE = 128


@dataclass
class Texture:
    """A tiling texture: ``image`` covers ``tile`` metres of surface per repeat."""

    image: Image.Image
    tile: float
    style: str


# ----------------------------------------------------------------------------- helpers


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """(3,) float RGB in [0, 1] from hue (wraps), saturation and value."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))))


def shade(color: np.ndarray, factor: float) -> np.ndarray:
    """Multiply a colour's brightness, clipped to [0, 1]."""
    return np.clip(np.asarray(color) * factor, 0.0, 1.0)


def mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1.0 - t) * np.asarray(a) + t * np.asarray(b)


def periodic_noise(rng: np.random.Generator, n: int, freq: float,
                   aspect: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """(n, n) smooth noise with zero mean and unit std that tiles seamlessly.

    ``freq`` is the feature frequency in cycles per tile; ``aspect`` stretches it
    (rows, cols), e.g. (1, 8) makes streaks along rows like wood grain.
    """
    white = rng.standard_normal((n, n))
    fy = np.fft.fftfreq(n)[:, None] * n / aspect[0]
    fx = np.fft.fftfreq(n)[None, :] * n / aspect[1]
    f2 = fy * fy + fx * fx
    filt = np.exp(-f2 / (2.0 * freq * freq))
    filt[0, 0] = 0.0
    out = np.real(np.fft.ifft2(np.fft.fft2(white) * filt))
    std = out.std()
    return out / std if std > 0 else out


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [0, 1): (rows, cols) broadcastable arrays."""
    c = (np.arange(n) + 0.5) / n
    return c[:, None], c[None, :]


def _blend(base: np.ndarray, mask: np.ndarray, color: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float64)
    return base * (1.0 - m) + m * np.asarray(color)[None, None, :]


def _grain(img: np.ndarray, rng: np.random.Generator, amount: float, freq: float = 40.0) -> np.ndarray:
    return img * (1.0 + amount * periodic_noise(rng, img.shape[0], freq)[..., None])


def _cells(coord: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Index and fractional position in [0, 1) of ``coord`` in ``count`` equal cells."""
    s = coord * count
    idx = np.floor(s).astype(np.int64)
    return idx % count, s - idx


def _edge_mask(frac: np.ndarray, width: float) -> np.ndarray:
    """True within ``width`` (fraction of a cell) of a cell border."""
    return (frac < width / 2) | (frac > 1 - width / 2)


def to_image(img: np.ndarray) -> Image.Image:
    """Float (H, W, 3) in [0, 1] -> RGB PIL image."""
    return Image.fromarray(np.ascontiguousarray(np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)))


# ----------------------------------------------------------------------------- walls


def _wall_plaster(rng, n, c1, c2):
    img = np.broadcast_to(c1, (n, n, 3)).astype(np.float64)
    img = img * (1.0 + 0.035 * periodic_noise(rng, n, 3.0)[..., None])
    return _grain(img, rng, 0.025, 30.0), 1.5


def _wall_stripes(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([4, 5, 6, 8]))
    _, fx = _cells(x, k)
    split = rng.uniform(0.35, 0.6)
    band = np.broadcast_to(fx < split, (n, n))
    img = _blend(np.broadcast_to(c1, (n, n, 3)).astype(np.float64), band, c2)
    if rng.random() < 0.6:  # thin pinstripe on one edge of the band
        pin = np.broadcast_to(np.abs(fx - split - 0.03) < 0.018, (n, n))
        img = _blend(img, pin, shade(c2, 0.75))
    return _grain(img, rng, 0.02, 40.0), 1.0


def _wall_dots(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([4, 5, 6]))
    iy, fy = _cells(y, k)
    xs = x + 0.5 * (iy % 2) / k  # offset every other row
    _, fx = _cells(xs, k)
    r = rng.uniform(0.14, 0.24)
    d2 = (fx - 0.5) ** 2 + (fy - 0.5) ** 2
    img = np.broadcast_to(c1, (n, n, 3)).astype(np.float64)
    img = _blend(img, np.clip((r - np.sqrt(d2)) * n / k * 1.2 + 0.5, 0, 1), c2)  # anti-aliased dots
    return _grain(img, rng, 0.02, 40.0), 1.0


def _wall_brick(rng, n, c1, c2):
    y, x = _grid(n)
    rows = 8
    iy, fy = _cells(y, rows)
    cols = 4
    xs = x + 0.5 * (iy % 2) / cols
    ix, fx = _cells(xs, cols)
    brick_id = (iy * cols + ix) % (rows * cols)
    jitter = rng.uniform(0.82, 1.12, rows * cols)
    hue_jit = rng.uniform(-0.05, 0.05, (rows * cols, 3))
    img = (np.asarray(c2)[None, None, :] + hue_jit[brick_id]) * jitter[brick_id][..., None]
    img = img * (1.0 + 0.06 * periodic_noise(rng, n, 30.0)[..., None])
    mortar = (fy < 0.12) | (fx < 0.035)
    img = _blend(img, np.broadcast_to(mortar, (n, n)), c1)
    return img, 1.0


def _wall_panel(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([5, 6, 8]))
    ix, fx = _cells(x, k)
    ix = np.broadcast_to(ix, (n, n))
    tone = rng.uniform(0.88, 1.1, k)
    grain = periodic_noise(rng, n, 6.0, aspect=(8.0, 1.0))
    img = np.asarray(c2)[None, None, :] * (tone[ix] * (1.0 + 0.07 * grain))[..., None]
    seam = np.broadcast_to(fx < 0.04, (n, n))
    img = _blend(img, seam, shade(c2, 0.55))
    return img, 1.2


def _wall_tiles(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([6, 8]))
    iy, fy = _cells(y, k)
    ix, fx = _cells(x, k)
    tid = (iy * k + ix) % (k * k)
    accent = rng.random() < 0.5
    base = np.where(((iy + ix) % 2 == 0)[..., None] & accent, np.asarray(c2), np.asarray(c1))
    img = base * rng.uniform(0.95, 1.04, k * k)[tid][..., None]
    grout = _edge_mask(fx, 0.08) | _edge_mask(fy, 0.08)
    img = _blend(img, grout, shade(c1, 0.78))
    return _grain(img, rng, 0.012, 40.0), 1.0


def _wall_diamond(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([3, 4]))
    _, fx = _cells(x, k)
    _, fy = _cells(y, k)
    d = np.abs(fx - 0.5) + np.abs(fy - 0.5)
    img = _blend(np.broadcast_to(c1, (n, n, 3)).astype(np.float64), d < 0.5, c2)
    line = np.abs(d - 0.5) < 0.025
    img = _blend(img, line, shade(mix(c1, c2, 0.5), 0.8))
    return _grain(img, rng, 0.02, 40.0), 1.0


def _wall_trellis(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([3, 4]))
    _, fx = _cells(x, k)
    _, fy = _cells(y, k)
    # a quatrefoil-like ornament: rings around cell centres and corners
    r1 = np.sqrt((fx - 0.5) ** 2 + (fy - 0.5) ** 2)
    cx = np.minimum(fx, 1 - fx)
    cy = np.minimum(fy, 1 - fy)
    r2 = np.sqrt(cx ** 2 + cy ** 2)
    ring = (np.abs(r1 - 0.3) < 0.04) | (np.abs(r2 - 0.2) < 0.035)
    img = _blend(np.broadcast_to(c1, (n, n, 3)).astype(np.float64), ring, c2)
    return _grain(img, rng, 0.02, 40.0), 1.0


_WALLS = {"plaster": _wall_plaster, "stripes": _wall_stripes, "dots": _wall_dots, "brick": _wall_brick,
          "panel": _wall_panel, "tiles": _wall_tiles, "diamond": _wall_diamond, "trellis": _wall_trellis}


def wall_texture(rng: np.random.Generator, style: str, hue: float, n: int = TEX_SIZE) -> Texture:
    """A wall texture of ``style`` around ``hue`` (0..1)."""
    if style == "brick":
        mortar = hsv(0.1, rng.uniform(0.02, 0.12), rng.uniform(0.7, 0.85))
        red = rng.random() < 0.6
        brick = hsv(rng.uniform(0.0, 0.06) if red else hue, rng.uniform(0.4, 0.65) if red else rng.uniform(0.15, 0.35),
                    rng.uniform(0.5, 0.72))
        c1, c2 = mortar, brick
    elif style == "panel":
        c1 = hsv(hue, 0.2, 0.8)
        wood = rng.random() < 0.6
        c2 = hsv(rng.uniform(0.06, 0.11), rng.uniform(0.35, 0.6), rng.uniform(0.45, 0.75)) if wood else \
            hsv(hue, rng.uniform(0.12, 0.35), rng.uniform(0.65, 0.88))
    elif style == "tiles":
        c1 = hsv(hue, rng.uniform(0.03, 0.25), rng.uniform(0.82, 0.96))
        c2 = hsv(hue, rng.uniform(0.3, 0.6), rng.uniform(0.55, 0.8))
    else:
        c1 = hsv(hue, rng.uniform(0.12, 0.45), rng.uniform(0.7, 0.93))
        if rng.random() < 0.5:  # tone on tone
            c2 = hsv(hue + rng.uniform(-0.03, 0.03), np.clip(rng.uniform(0.25, 0.6), 0, 1), rng.uniform(0.5, 0.75))
        else:  # contrasting accent
            c2 = hsv(hue + rng.choice([-1, 1]) * rng.uniform(0.08, 0.5), rng.uniform(0.25, 0.6), rng.uniform(0.55, 0.9))
    img, tile = _WALLS[style](rng, n, c1, c2)
    return Texture(to_image(img), tile, style)


# ----------------------------------------------------------------------------- floors


def wood_color(rng: np.random.Generator) -> np.ndarray:
    """A random wood tone from pale oak to walnut."""
    return hsv(rng.uniform(0.05, 0.11), rng.uniform(0.35, 0.7), rng.uniform(0.3, 0.78))


def _floor_planks(rng, n, c1, c2):
    y, x = _grid(n)
    rows = int(rng.choice([5, 6, 8]))
    iy, fy = _cells(y, rows)
    iy = np.broadcast_to(iy, (n, n))
    seams = rng.uniform(0, 1, (rows, 2))
    seams[:, 1] = (seams[:, 0] + rng.uniform(0.35, 0.65, rows)) % 1.0
    xs = np.broadcast_to(x, (n, n))
    s0, s1 = seams[iy, 0], seams[iy, 1]
    lo, hi = np.minimum(s0, s1), np.maximum(s0, s1)
    seg = ((xs >= lo) & (xs < hi)).astype(np.int64)
    pid = iy * 2 + seg
    tone = rng.uniform(0.8, 1.15, rows * 2)
    grain = periodic_noise(rng, n, 5.0, aspect=(1.0, 10.0))
    img = np.asarray(c1)[None, None, :] * (tone[pid] * (1.0 + 0.09 * grain))[..., None]
    gap = np.broadcast_to(fy < 0.06, (n, n)) | (np.abs(xs - s0) < 0.006) | (np.abs(xs - s1) < 0.006)
    return _blend(img, gap, shade(c1, 0.45)), 1.2


def _floor_checker(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([2, 4]))
    iy, fy = _cells(y, k)
    ix, fx = _cells(x, k)
    img = np.where(((iy + ix) % 2 == 0)[..., None], np.asarray(c1), np.asarray(c2)).astype(np.float64)
    img = img * (1.0 + 0.03 * periodic_noise(rng, n, 20.0)[..., None])
    grout = _edge_mask(fx, 0.03) | _edge_mask(fy, 0.03)
    return _blend(img, grout, mix(c1, c2, 0.5) * 0.8), 1.0


def _floor_tiles(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.choice([2, 3, 4]))
    iy, fy = _cells(y, k)
    ix, fx = _cells(x, k)
    tid = (iy * k + ix) % (k * k)
    img = np.asarray(c1)[None, None, :] * rng.uniform(0.92, 1.06, k * k)[tid][..., None]
    img = img * (1.0 + 0.05 * periodic_noise(rng, n, 12.0)[..., None])
    grout = _edge_mask(fx, 0.04) | _edge_mask(fy, 0.04)
    return _blend(img, grout, c2), 1.0


def _floor_carpet(rng, n, c1, c2):
    img = np.broadcast_to(c1, (n, n, 3)).astype(np.float64)
    img = img * (1.0 + 0.05 * periodic_noise(rng, n, 4.0)[..., None])
    img = img * (1.0 + 0.09 * rng.standard_normal((n, n))[..., None])  # white noise tiles trivially
    return img, 1.0


def _floor_stone(rng, n, c1, c2):
    y, x = _grid(n)
    k = int(rng.integers(9, 15))
    pts = rng.random((k, 2))
    dy = np.abs(y[..., None] - pts[:, 0])
    dx = np.abs(x[..., None] - pts[:, 1])
    dy = np.minimum(dy, 1 - dy)
    dx = np.minimum(dx, 1 - dx)
    d = np.sqrt(dy * dy + dx * dx)  # (n, n, k) toroidal distances
    part = np.partition(d, 1, axis=-1)
    nearest = np.argmin(d, axis=-1)
    edge = (part[..., 1] - part[..., 0]) < 0.018
    tone = rng.uniform(0.8, 1.15, k)
    tint = rng.uniform(-0.04, 0.04, (k, 3))
    img = (np.asarray(c1)[None, None, :] + tint[nearest]) * tone[nearest][..., None]
    img = img * (1.0 + 0.06 * periodic_noise(rng, n, 16.0)[..., None])
    return _blend(img, edge, c2), 2.0


def _floor_parquet(rng, n, c1, c2):
    y, x = _grid(n)
    k = 4  # blocks per tile, each of 4 slats, orientation alternating (basket weave)
    iy, fy = _cells(y, k)
    ix, fx = _cells(x, k)
    horiz = (iy + ix) % 2 == 0
    slat_coord = np.where(horiz, fy, fx)
    along = np.where(horiz, fx, fy)
    sid, sf = _cells(slat_coord, 4)
    bid = (iy * k + ix) % (k * k)
    tone = rng.uniform(0.82, 1.14, (k * k, 4))[bid, sid]
    gh = periodic_noise(rng, n, 5.0, aspect=(1.0, 8.0))
    gv = periodic_noise(rng, n, 5.0, aspect=(8.0, 1.0))
    grain = np.where(horiz, gh, gv)
    img = np.asarray(c1)[None, None, :] * (tone * (1.0 + 0.08 * grain))[..., None]
    gap = _edge_mask(sf, 0.1) | _edge_mask(along, 0.025) | _edge_mask(fx, 0.02) | _edge_mask(fy, 0.02)
    return _blend(img, gap, shade(c1, 0.5)), 1.2


def _floor_terrazzo(rng, n, c1, c2):
    img = np.broadcast_to(c1, (n, n, 3)).astype(np.float64)
    img = img * (1.0 + 0.025 * periodic_noise(rng, n, 6.0)[..., None])
    for color, thresh in ((c2, 2.3), (shade(c1, 0.55), 2.5), (hsv(rng.random(), 0.5, 0.7), 2.7)):
        chips = periodic_noise(rng, n, 22.0) > thresh
        img = _blend(img, chips, color)
    return img, 1.0


_FLOORS = {"planks": _floor_planks, "checker": _floor_checker, "tiles": _floor_tiles, "carpet": _floor_carpet,
           "stone": _floor_stone, "parquet": _floor_parquet, "terrazzo": _floor_terrazzo}


def floor_texture(rng: np.random.Generator, style: str, hue: float, n: int = TEX_SIZE) -> Texture:
    """A floor texture of ``style`` around ``hue`` (wood styles pick wood tones instead)."""
    if style in ("planks", "parquet"):
        c1, c2 = wood_color(rng), None
    elif style == "checker":
        c1 = hsv(hue, rng.uniform(0.0, 0.15), rng.uniform(0.82, 0.95))
        c2 = hsv(hue, rng.uniform(0.2, 0.6), rng.uniform(0.15, 0.45))
    elif style == "tiles":
        c1 = hsv(hue, rng.uniform(0.08, 0.4), rng.uniform(0.5, 0.85))
        c2 = shade(c1, 0.6)
    elif style == "carpet":
        c1 = hsv(hue, rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.7))
        c2 = None
    elif style == "stone":
        c1 = hsv(hue, rng.uniform(0.05, 0.25), rng.uniform(0.45, 0.7))
        c2 = shade(c1, 0.45)
    else:  # terrazzo
        c1 = hsv(hue, rng.uniform(0.03, 0.15), rng.uniform(0.7, 0.88))
        c2 = hsv(hue + 0.5, rng.uniform(0.2, 0.5), rng.uniform(0.3, 0.6))
    img, tile = _FLOORS[style](rng, n, c1, c2)
    return Texture(to_image(img), tile, style)


def ceiling_texture(rng: np.random.Generator, n: int = 64) -> Texture:
    """A light, subtly mottled ceiling."""
    c = hsv(rng.uniform(0.05, 0.15), rng.uniform(0.0, 0.06), rng.uniform(0.88, 0.97))
    img = np.broadcast_to(c, (n, n, 3)) * (1.0 + 0.015 * periodic_noise(rng, n, 4.0)[..., None])
    return Texture(to_image(img), 2.0, "ceiling")


# ----------------------------------------------------------------------------- palette

#: Pixels per palette cell side.
PALETTE_CELL_PX = 8


def palette_grid(num_colors: int) -> int:
    """Cells per side of the square palette holding ``num_colors`` colours."""
    side = 4
    while side * side < num_colors:
        side *= 2
    return side


def palette_image(colors: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    """Solid-colour palette of ``colors`` ((K, 3) uint8), row-major cells.

    Returns the image and (K, 2) UVs of the cell centres in trimesh's convention
    (v up from the bottom of the image; glTF export flips it).
    """
    colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    side = palette_grid(len(colors))
    cells = np.zeros((side * side, 3), dtype=np.uint8)
    cells[: len(colors)] = colors
    if len(colors) < side * side:
        cells[len(colors):] = 255
    grid = cells.reshape(side, side, 3)
    img = np.repeat(np.repeat(grid, PALETTE_CELL_PX, axis=0), PALETTE_CELL_PX, axis=1)
    k = np.arange(len(colors))
    row, col = k // side, k % side
    uv = np.stack([(col + 0.5) / side, 1.0 - (row + 0.5) / side], axis=1)
    return Image.fromarray(np.ascontiguousarray(img)), uv

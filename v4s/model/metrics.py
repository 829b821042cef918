"""Image quality of imagined frames: PSNR and SSIM, on uint8 RGB frames."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio, dB, of uint8 images (..., H, W, 3); 100 for identical images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004, Gaussian window) of two uint8 images (H, W, 3), mean over channels."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    out = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch].astype(np.float64), b[..., ch].astype(np.float64)
        blur = lambda z: ndimage.gaussian_filter(z, sigma, truncate=3.5)  # noqa: E731
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        out.append(s.mean())
    return float(np.mean(out))

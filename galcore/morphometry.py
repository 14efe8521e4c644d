"""Simple photometric and shape measurements of the central galaxy of curated images.

The measurements a classical (non-deep) classifier would use: ellipticity, concentration,
size and colour. They are taken on the stored uint8 images, after undoing the catalog's asinh
colour stretch, so both surveys are measured on the same angular grid and flux scale.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from galcore.curation import ColourStretch

__all__ = ["FEATURES", "linear_planes", "measure_images"]

FEATURES = ("ellipticity", "concentration", "log_r50", "g_r", "r_i")
"""Columns of `measure_images`, in order."""

_DETECT_SIGMA = 2.0  # the galaxy is the pixels this many noise sigmas above the background
_SMOOTH_PIXELS = 1.0
_BORDER = 4  # pixels along each edge that estimate the background
_MIN_FLUX = 1e-6


def linear_planes(images: np.ndarray, stretch: ColourStretch) -> np.ndarray:
    """Return (N, S, S, 3) linear surface brightness in (i, r, g) from stretched uint8 images.

    The Lupton stretch (astropy's ``AsinhMapping``) takes the black point from each band and maps
    the mean intensity I of a pixel to ``asinh(q I / stretch) * slope`` with ``slope = 25.5 /
    asinh(0.1 q)``, scaling the three bands alike; this inverts it. A black pixel reads as 0 (it
    was at most the black point), and one clipped at 255 keeps its colour, not its brightness.
    """
    value = images.astype(np.float64)
    mean = value.mean(axis=-1, keepdims=True)
    slope = 0.1 * 255.0 / np.arcsinh(0.1 * stretch.q)
    intensity = stretch.stretch / stretch.q * np.sinh(mean / slope)
    scale = np.divide(intensity, mean, out=np.zeros_like(mean), where=mean > 0)
    return np.where(mean > 0, value * scale + stretch.minimum, 0.0)


def measure_images(images: np.ndarray, *, stretch: ColourStretch) -> np.ndarray:
    """Return the `FEATURES` of the galaxy at the centre of each image.

    Parameters
    ----------
    images : numpy.ndarray
        uint8 (N, S, S, 3) curated images, channels (i, r, g).
    stretch : ColourStretch
        The stretch the catalog was curated with.

    Returns
    -------
    numpy.ndarray
        float64 (N, 5): ellipticity 1 - b/a from second moments, concentration R90 / R50,
        log10 R50 in pixels, and the g - r and r - i colours, all measured on the connected
        pixels above the background that hold the image's centre.
    """
    planes = linear_planes(images, stretch)
    return np.array([_measure(plane) for plane in planes])


def _measure(plane: np.ndarray) -> np.ndarray:
    """Measure one (S, S, 3) linear image."""
    light = plane.sum(axis=-1)
    mask = _central_object(light)
    weights = np.where(mask, light, 0.0)
    total = max(weights.sum(), _MIN_FLUX)
    ny, nx = light.shape
    y, x = np.mgrid[:ny, :nx]
    cx, cy = (weights * x).sum() / total, (weights * y).sum() / total
    dx, dy = x - cx, y - cy
    cov = np.array(
        [
            [(weights * dx * dx).sum(), (weights * dx * dy).sum()],
            [(weights * dx * dy).sum(), (weights * dy * dy).sum()],
        ]
    )
    low, high = np.sqrt(np.clip(np.linalg.eigvalsh(cov / total), _MIN_FLUX, None))
    radius = np.hypot(dx, dy)[mask]
    order = np.argsort(radius)
    enclosed = np.cumsum(weights[mask][order]) / total
    r50, r90 = (
        radius[order][min(np.searchsorted(enclosed, f), len(order) - 1)] for f in (0.5, 0.9)
    )
    r50 = max(r50, 0.5)
    band = [max(plane[..., k][mask].sum(), _MIN_FLUX) for k in range(3)]  # i, r, g
    return np.array(
        [
            1.0 - low / high,
            max(r90, 0.5) / r50,
            np.log10(r50),
            -2.5 * np.log10(band[2] / band[1]),
            -2.5 * np.log10(band[1] / band[0]),
        ]
    )


def _central_object(light: np.ndarray) -> np.ndarray:
    """Return the mask of the connected pixels above the background nearest the centre."""
    border = np.concatenate(
        [light[:_BORDER].ravel(), light[-_BORDER:].ravel(), light[:, :_BORDER].ravel()]
    )
    background = np.median(border)
    noise = 1.4826 * np.median(np.abs(border - background)) + _MIN_FLUX
    smooth = ndimage.gaussian_filter(light - background, _SMOOTH_PIXELS)
    detected = smooth > _DETECT_SIGMA * noise / (2.0 * np.sqrt(np.pi) * _SMOOTH_PIXELS)
    labels, count = ndimage.label(detected)
    ny, nx = light.shape
    if count == 0:
        mask = np.zeros_like(detected)
        mask[ny // 2 - 1 : ny // 2 + 1, nx // 2 - 1 : nx // 2 + 1] = True
        return mask
    centre = labels[ny // 2, nx // 2]
    if centre == 0:
        y, x = np.nonzero(labels)
        nearest = np.argmin((y - ny / 2) ** 2 + (x - nx / 2) ** 2)
        centre = labels[y[nearest], x[nearest]]
    return labels == centre

"""What else is on a survey image: stars and artefacts (cosmic rays, trails, bad columns).

Stars are drawn once for the whole sky, so SDSS and DES see the same ones; artefacts belong to
one exposure, so each image and band gets its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from galcore.sky._population import AB_ZERO_NMGY, des_magnitudes, sdss_magnitudes

if TYPE_CHECKING:
    from collections.abc import Mapping

_STARS_PER_ARCMIN2 = 0.5  # high Galactic latitude (Stripe 82), 13.5 < r < 22
_STAR_MAG_RANGE = (13.5, 22.0)
_STAR_COUNT_SLOPE = 0.2  # dlog10(N)/dm
_STAR_G_R = (0.3, 1.4)


@dataclass(frozen=True)
class Star:
    """A point source: position in degrees and AB magnitudes per survey and band."""

    ra: float
    dec: float
    mags: Mapping[str, Mapping[str, float]]

    def flux(self, survey: str, band: str) -> float:
        """Return the flux in nanomaggies in one survey's band."""
        return 10.0 ** (-0.4 * (self.mags[survey][band] - AB_ZERO_NMGY))


def draw_stars(
    bounds: tuple[float, float, float, float], *, rng: np.random.Generator
) -> list[Star]:
    """Draw stars uniformly over a patch of sky, with counts rising towards faint magnitudes.

    Parameters
    ----------
    bounds : tuple of float
        (ra_min, ra_max, dec_min, dec_max) in degrees.
    rng : numpy.random.Generator
        Random numbers.

    Returns
    -------
    list of Star
        About 0.5 stars per square arcminute, r from 13.5 to 22, g - r from 0.3 to 1.4.
    """
    ra_min, ra_max, dec_min, dec_max = bounds
    cos_dec = math.cos(math.radians((dec_min + dec_max) / 2.0))
    area = (ra_max - ra_min) * cos_dec * (dec_max - dec_min) * 3600.0
    n = int(rng.poisson(_STARS_PER_ARCMIN2 * area))
    ra = rng.uniform(ra_min, ra_max, n)
    dec = rng.uniform(dec_min, dec_max, n)
    low, high = (10.0 ** (_STAR_COUNT_SLOPE * m) for m in _STAR_MAG_RANGE)
    mag_r = np.log10(rng.uniform(low, high, n)) / _STAR_COUNT_SLOPE
    g_r = rng.uniform(*_STAR_G_R, n)
    stars = []
    for k in range(n):
        colours = (1.1 * g_r[k] + 0.3, g_r[k], 0.45 * g_r[k] - 0.05, 0.3 * g_r[k])
        sdss = sdss_magnitudes(float(mag_r[k]), colours)
        stars.append(Star(float(ra[k]), float(dec[k]), {"sdss": sdss, "des": des_magnitudes(sdss)}))
    return stars


@dataclass(frozen=True)
class ArtefactRates:
    """How often a survey's images carry each artefact (per image and band).

    Parameters
    ----------
    cosmic_rays_per_arcmin2 : float
        Mean number of cosmic-ray hits per square arcminute.
    trail : float
        Chance of a satellite trail across the image.
    bad_column : float
        Chance of one bad column.
    """

    cosmic_rays_per_arcmin2: float
    trail: float
    bad_column: float


# SDSS frames are single 54 s exposures: cosmic rays everywhere, and an occasional bad column;
# DES coadds reject most cosmic rays and bad columns, but a satellite trail can survive in one band.
ARTEFACTS = {
    "sdss": ArtefactRates(cosmic_rays_per_arcmin2=0.3, trail=0.05, bad_column=0.05),
    "des": ArtefactRates(cosmic_rays_per_arcmin2=0.01, trail=0.03, bad_column=0.0),
}
_CR_LENGTH = (1, 6)  # pixels
_CR_PEAK = (8.0, 80.0)  # in background sigmas
_TRAIL_PEAK = (4.0, 30.0)
_TRAIL_WIDTH = (0.8, 1.6)  # Gaussian sigma in pixels
_BAD_COLUMN_LEVEL = (5.0, 40.0)


def add_artefacts(
    image: np.ndarray,
    sigma: float,
    *,
    rates: ArtefactRates,
    pixel_scale: float,
    rng: np.random.Generator,
) -> dict[str, int]:
    """Add cosmic rays, perhaps a satellite trail and perhaps a bad column, in place.

    Parameters
    ----------
    image : numpy.ndarray
        One band of one image, in nanomaggies per pixel.
    sigma : float
        Its background noise per pixel.
    rates : ArtefactRates
        How often each artefact occurs.
    pixel_scale : float
        Arcsec per pixel.
    rng : numpy.random.Generator
        Random numbers.

    Returns
    -------
    dict
        How many of each artefact were added.
    """
    ny, nx = image.shape
    area = nx * ny * (pixel_scale / 60.0) ** 2
    rays = int(rng.poisson(rates.cosmic_rays_per_arcmin2 * area))
    for _ in range(rays):
        _cosmic_ray(image, sigma, rng)
    trail = rng.random() < rates.trail
    if trail:
        _trail(image, sigma, rng)
    bad = rng.random() < rates.bad_column
    if bad:
        column = int(rng.integers(0, nx))
        image[:, column] += np.float32(rng.uniform(*_BAD_COLUMN_LEVEL) * sigma)
    return {"cosmic_rays": rays, "trails": int(trail), "bad_columns": int(bad)}


def _cosmic_ray(image: np.ndarray, sigma: float, rng: np.random.Generator) -> None:
    """Add one sharp, short, straight track of a few pixels."""
    ny, nx = image.shape
    length = int(rng.integers(*_CR_LENGTH))
    angle = rng.uniform(0.0, math.pi)
    steps = np.arange(length)
    x = (rng.uniform(0, nx) + steps * math.cos(angle)).astype(int)
    y = (rng.uniform(0, ny) + steps * math.sin(angle)).astype(int)
    on = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    image[y[on], x[on]] += np.float32(rng.uniform(*_CR_PEAK) * sigma)


def _trail(image: np.ndarray, sigma: float, rng: np.random.Generator) -> None:
    """Add a straight satellite trail with a Gaussian cross-section across the whole image."""
    ny, nx = image.shape
    angle = rng.uniform(0.0, math.pi)
    x0, y0 = rng.uniform(0, nx), rng.uniform(0, ny)
    width = rng.uniform(*_TRAIL_WIDTH)
    level = rng.uniform(*_TRAIL_PEAK) * sigma
    normal = (-math.sin(angle), math.cos(angle))
    reach = int(4 * width) + 1
    half = int(math.hypot(nx, ny))
    t = np.arange(-half, half + 1, dtype=np.float64)
    for offset in range(-reach, reach + 1):
        x = np.round(x0 + t * math.cos(angle) + offset * normal[0]).astype(int)
        y = np.round(y0 + t * math.sin(angle) + offset * normal[1]).astype(int)
        on = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
        image[y[on], x[on]] += np.float32(level * math.exp(-0.5 * (offset / width) ** 2))

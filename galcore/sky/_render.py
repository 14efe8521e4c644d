"""Scenes on a survey pixel grid: galaxies and stars seen through the PSF, then noise.

Galaxies are integrated over the image's pixels (`galcore.sky._profiles`), stars are points;
the ideal image is convolved with the survey's Moffat PSF, and bright stars get diffraction
spikes along the pixel axes. Noise is added separately (:func:`add_noise`) so the writers can
record the same noise level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import oaconvolve

from galcore.sky._profiles import MAX_STAMP_ARCSEC, band_weights, galaxy_stamp, stamp_half_width

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from astropy.wcs import WCS

    from galcore.sky._contaminants import Star
    from galcore.sky._population import Galaxy

_ARCSEC_PER_DEG = 3600.0
_KERNEL_FWHMS = 4.0  # PSF kernel half-width in FWHM
_SPIKE_FLUX = 400.0  # nanomaggies (r ~ 16): stars brighter than this show spikes
_SPIKE_SHARE = 0.01  # of a star's flux in each of its four spike arms, per 100 pixels
_SPIKE_LENGTH = 40.0  # arcsec, for a star of _SPIKE_FLUX; grows as sqrt(flux)


@dataclass(frozen=True)
class Instrument:
    """How one survey sees the sky.

    Parameters
    ----------
    name : str
        Survey name, the key of `Galaxy.mags` ("sdss" or "des").
    pixel_scale : float
        Arcsec per pixel.
    bands : tuple of str
        Bands the survey images are written for.
    psf_fwhm : Mapping
        Seeing FWHM in arcsec per band.
    sky_sigma : Mapping
        Background noise per pixel in nanomaggies per band.
    electrons_per_nmgy : float
        Detected electrons per nanomaggy, for the shot noise of the sources.
    moffat_beta : float
        Moffat index of the PSF (small = broad wings).
    depth_variation : float
        Relative, smooth variation of the noise across an image (coadds vary in depth).
    """

    name: str
    pixel_scale: float
    bands: tuple[str, ...]
    psf_fwhm: Mapping[str, float]
    sky_sigma: Mapping[str, float]
    electrons_per_nmgy: float
    moffat_beta: float
    depth_variation: float


# SDSS: single 54 s exposures, 95% complete to r ~ 22.2 for point sources; median seeing 1.4".
SDSS = Instrument(
    name="sdss",
    pixel_scale=0.396,
    bands=("g", "r", "i"),
    psf_fwhm={"g": 1.5, "r": 1.4, "i": 1.3},
    sky_sigma={"g": 0.05, "r": 0.06, "i": 0.09},
    electrons_per_nmgy=900.0,
    moffat_beta=2.5,
    depth_variation=0.0,
)
# DES DR1 coadds: 10-sigma depths of g 24.3, r 24.1, i 23.4 in 1.95" apertures (Abbott et al.
# 2018), about two magnitudes deeper than SDSS's single 54 s exposures, with smaller pixels and
# better seeing.
DES = Instrument(
    name="des",
    pixel_scale=0.263,
    bands=("g", "r", "i"),
    psf_fwhm={"g": 1.12, "r": 0.96, "i": 0.88},
    sky_sigma={"g": 0.0030, "r": 0.0038, "i": 0.0068},
    electrons_per_nmgy=5000.0,
    moffat_beta=3.5,
    depth_variation=0.06,
)


def local_jacobians(wcs: WCS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the (n, 2, 2) maps from pixel offsets to (east, north) arcsec at pixels (x, y).

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS of the image.
    x, y : numpy.ndarray
        0-based pixel positions.

    Returns
    -------
    numpy.ndarray
        Finite-difference Jacobians, exact for the small stamps rendered here.
    """
    ra0, dec0 = wcs.all_pix2world(x, y, 0)
    columns = []
    for step_x, step_y in ((1.0, 0.0), (0.0, 1.0)):
        ra, dec = wcs.all_pix2world(x + step_x, y + step_y, 0)
        east = ((ra - ra0 + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec0))
        columns.append(np.stack([east, dec - dec0], axis=-1) * _ARCSEC_PER_DEG)
    return np.stack(columns, axis=-1)


def _paste(image: np.ndarray, stamp: np.ndarray, centre: tuple[int, int]) -> None:
    """Add a square stamp centred on pixel (x, y) to an image, clipped to its edges."""
    half = stamp.shape[0] // 2
    x0, y0 = centre[0] - half, centre[1] - half
    ny, nx = image.shape
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + stamp.shape[1], nx), min(y0 + stamp.shape[0], ny)
    if xa < xb and ya < yb:
        image[ya:yb, xa:xb] += stamp[ya - y0 : yb - y0, xa - x0 : xb - x0]


@lru_cache(maxsize=32)
def psf_kernel(fwhm_pixels: float, beta: float) -> np.ndarray:
    """Return a normalised, odd-sized Moffat PSF kernel.

    Parameters
    ----------
    fwhm_pixels : float
        Full width at half maximum in pixels.
    beta : float
        Moffat index.

    Returns
    -------
    numpy.ndarray
        float32 kernel summing to 1, read-only (it is cached).
    """
    alpha = fwhm_pixels / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    half = math.ceil(_KERNEL_FWHMS * fwhm_pixels)
    grid = np.arange(-half, half + 1)
    radius2 = grid[np.newaxis, :] ** 2 + grid[:, np.newaxis] ** 2
    kernel = (1.0 + radius2 / alpha**2) ** (-beta)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    kernel.flags.writeable = False
    return kernel


def render_scene(
    galaxies: Sequence[Galaxy],
    wcs: WCS,
    image_shape: tuple[int, int],
    *,
    instrument: Instrument,
    stars: Sequence[Star] = (),
) -> dict[str, np.ndarray]:
    """Render galaxies and stars, seen through the PSF, into noiseless images.

    Parameters
    ----------
    galaxies : Sequence of Galaxy
        Galaxies to draw; those whose stamp misses the image are skipped.
    wcs : astropy.wcs.WCS
        Celestial WCS of the image.
    image_shape : tuple of int
        (ny, nx) of the image.
    instrument : Instrument
        The survey: pixel scale, bands and PSF.
    stars : Sequence of Star
        Point sources; bright ones get diffraction spikes.

    Returns
    -------
    dict
        One float32 image per band of the instrument, in nanomaggies per pixel.
    """
    images = {band: np.zeros(image_shape, dtype=np.float32) for band in instrument.bands}
    if galaxies:
        x, y = wcs.all_world2pix([g.ra for g in galaxies], [g.dec for g in galaxies], 0)
        reach = MAX_STAMP_ARCSEC / instrument.pixel_scale
        near = np.flatnonzero(
            (x > -reach)
            & (x < image_shape[1] + reach)
            & (y > -reach)
            & (y < image_shape[0] + reach)
        )
        jacobians = local_jacobians(wcs, x[near], y[near])
        for k, jacobian in zip(near, jacobians, strict=True):
            _add_galaxy(images, galaxies[k], (float(x[k]), float(y[k])), jacobian, instrument)
    bright = _add_points(images, stars, wcs, instrument)
    scene = {band: _convolve(images[band], instrument, band) for band in instrument.bands}
    for band, image in scene.items():
        for x_star, y_star, star in bright:
            _add_spikes(image, (x_star, y_star), star.flux(instrument.name, band), instrument)
    return scene


def _add_galaxy(
    images: dict[str, np.ndarray],
    galaxy: Galaxy,
    position: tuple[float, float],
    jacobian: np.ndarray,
    instrument: Instrument,
) -> None:
    """Add one galaxy to every band image if its stamp overlaps them."""
    half = stamp_half_width(galaxy.shape, instrument.pixel_scale)
    centre = (round(position[0]), round(position[1]))
    ny, nx = next(iter(images.values())).shape
    if not (-half <= centre[0] < nx + half and -half <= centre[1] < ny + half):
        return
    offset = (position[0] - centre[0], position[1] - centre[1])
    components = galaxy_stamp(galaxy.shape, jacobian, offset, half)
    for band, image in images.items():
        stamp = np.tensordot(band_weights(galaxy, instrument.name, band), components, axes=1)
        stamp *= galaxy.flux(instrument.name, band) / stamp.sum()
        _paste(image, stamp.astype(np.float32), centre)


def _add_points(
    images: dict[str, np.ndarray], stars: Sequence[Star], wcs: WCS, instrument: Instrument
) -> list[tuple[float, float, Star]]:
    """Add stars as points shared bilinearly among four pixels; return the bright ones."""
    if not stars:
        return []
    ny, nx = next(iter(images.values())).shape
    x, y = wcs.all_world2pix([s.ra for s in stars], [s.dec for s in stars], 0)
    on = np.flatnonzero((x >= 0) & (x < nx - 1) & (y >= 0) & (y < ny - 1))
    x0, y0 = np.floor(x[on]).astype(int), np.floor(y[on]).astype(int)
    fx, fy = x[on] - x0, y[on] - y0
    for band, image in images.items():
        flux = np.array([stars[k].flux(instrument.name, band) for k in on], dtype=np.float32)
        for dx, dy, share in (
            (0, 0, (1 - fx) * (1 - fy)),
            (1, 0, fx * (1 - fy)),
            (0, 1, (1 - fx) * fy),
            (1, 1, fx * fy),
        ):
            np.add.at(image, (y0 + dy, x0 + dx), (flux * share).astype(np.float32))
    return [
        (float(x[k]), float(y[k]), stars[k])
        for k in on
        if stars[k].flux(instrument.name, "r") > _SPIKE_FLUX
    ]


def _add_spikes(
    image: np.ndarray, position: tuple[float, float], flux: float, instrument: Instrument
) -> None:
    """Add four diffraction spikes along the pixel axes, fading linearly to their ends."""
    length = _SPIKE_LENGTH * math.sqrt(flux / _SPIKE_FLUX) / instrument.pixel_scale
    reach = np.arange(1, math.ceil(length) + 1)
    profile = (_SPIKE_SHARE * flux / 100.0) * (1.0 - reach / (length + 1.0)) * 2.0
    x, y = round(position[0]), round(position[1])
    ny, nx = image.shape
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        xs, ys = x + dx * reach, y + dy * reach
        on = (xs >= 0) & (xs < nx) & (ys >= 0) & (ys < ny)
        image[ys[on], xs[on]] += profile[on].astype(np.float32)


def _convolve(image: np.ndarray, instrument: Instrument, band: str) -> np.ndarray:
    """Convolve an image with the instrument's PSF in one band."""
    fwhm = instrument.psf_fwhm[band] / instrument.pixel_scale
    kernel = psf_kernel(round(fwhm, 3), instrument.moffat_beta)
    return oaconvolve(image, kernel, mode="same").astype(np.float32)


def add_noise(
    image: np.ndarray,
    sigma: float | np.ndarray,
    *,
    electrons_per_nmgy: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Return an image with Gaussian background noise and the shot noise of its sources.

    Parameters
    ----------
    image : numpy.ndarray
        Noiseless image in nanomaggies per pixel.
    sigma : float or numpy.ndarray
        Background noise per pixel in nanomaggies (a map for spatially varying depth).
    electrons_per_nmgy : float
        Detected electrons per nanomaggy (sets the source shot noise).
    rng : numpy.random.Generator
        Random numbers.

    Returns
    -------
    numpy.ndarray
        float32 image of the same shape.
    """
    variance = np.square(sigma) + np.clip(image, 0.0, None) / electrons_per_nmgy
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    return (image + np.sqrt(variance) * noise).astype(np.float32)


def sky_sigma_map(
    instrument: Instrument, band: str, shape: tuple[int, int], *, rng: np.random.Generator
) -> float | np.ndarray:
    """Return the background noise of an image, in nanomaggies per pixel.

    Parameters
    ----------
    instrument : Instrument
        The survey.
    band : str
        The band.
    shape : tuple of int
        (ny, nx) of the image.
    rng : numpy.random.Generator
        Random numbers (the phase of the depth pattern).

    Returns
    -------
    float or numpy.ndarray
        The band's noise, or a float32 map varying smoothly by ``depth_variation`` around it.
    """
    sigma = instrument.sky_sigma[band]
    if instrument.depth_variation == 0.0:
        return sigma
    phase_x, phase_y = rng.uniform(0.0, 2.0 * math.pi, 2)
    x = np.linspace(0.0, math.pi, shape[1])[np.newaxis, :] + phase_x
    y = np.linspace(0.0, math.pi, shape[0])[:, np.newaxis] + phase_y
    pattern = np.cos(x) * np.cos(y)
    return (sigma * (1.0 + instrument.depth_variation * pattern)).astype(np.float32)

"""Galaxy light profiles on a survey pixel grid: Sersic ellipticals and spirals with arms.

Each galaxy is modelled in sky coordinates (arcsec east and north of its centre) and evaluated at
the pixel positions of an image through the local Jacobian of the image's WCS, so a rotated SDSS
frame sees the galaxy rotated. The ideal image is convolved with the survey's Moffat PSF; noise
is added separately (:func:`add_noise`) so the writers can record the same noise level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import oaconvolve

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from astropy.wcs import WCS

    from galcore.sky._population import Galaxy

    Model = Callable[[np.ndarray, np.ndarray], np.ndarray]

_ARCSEC_PER_DEG = 3600.0
_STAMP_HALF_LIGHTS = 8.0  # a stamp reaches this many half-light radii from the centre
_MAX_STAMP_ARCSEC = 60.0
_CORE_HALF_PIXELS = 3  # the central 7x7 pixels are integrated on a finer grid
_CORE_OVERSAMPLE = 5
_KERNEL_FWHMS = 4.0  # PSF kernel half-width in FWHM
_ARM_SHARPNESS = 3  # arms follow ((1 + cos psi) / 2) ** k
_ARM_MEAN = math.comb(2 * _ARM_SHARPNESS, _ARM_SHARPNESS) / 4.0**_ARM_SHARPNESS
_EXP_HALF_LIGHT = 1.678  # half-light radius of an exponential disk in scale lengths
_MAX_ARM_AMPLITUDE = 0.95
# Colour (m_band - m_r) of an old, red bulge; spirals are bluer overall, so their bulge
# fraction falls towards the blue.
_BULGE_COLOUR = {"u": 2.5, "g": 0.78, "r": 0.0, "i": -0.40, "z": -0.75, "Y": -0.85}
# Star-forming arms are blue: their contrast grows towards the blue bands.
_ARM_BOOST = {"u": 1.5, "g": 1.3, "r": 1.0, "i": 0.8, "z": 0.7, "Y": 0.65}


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
# About one magnitude deeper than SDSS per arcsec^2, with smaller pixels and better seeing.
DES = Instrument(
    name="des",
    pixel_scale=0.263,
    bands=("g", "r", "i"),
    psf_fwhm={"g": 1.05, "r": 0.95, "i": 0.9},
    sky_sigma={"g": 0.020, "r": 0.024, "i": 0.036},
    electrons_per_nmgy=5000.0,
    moffat_beta=3.5,
    depth_variation=0.06,
)


@dataclass(frozen=True)
class Shape:
    """Structure of one galaxy on the sky (sizes in arcsec, angles in degrees).

    Parameters
    ----------
    morphology : str
        "elliptical" (one Sersic component) or "spiral" (bulge + disk + arms).
    half_light : float
        Semi-major half-light radius of the galaxy (of the disk for spirals).
    axis_ratio : float
        Minor over major axis of the galaxy (of the disk for spirals).
    position_angle : float
        Major axis, east of north.
    sersic_n : float
        Sersic index of the elliptical or of the bulge.
    bulge_fraction : float
        Bulge-to-total flux ratio in r (spirals).
    bulge_radius : float
        Half-light radius of the bulge (spirals).
    bulge_axis_ratio : float
        Axis ratio of the bulge (spirals).
    n_arms : int
        Number of spiral arms.
    pitch : float
        Pitch angle of the logarithmic arms.
    arm_amplitude : float
        Arm contrast in r, 0 (none) to about 0.9.
    arm_phase : float
        Rotation of the arm pattern in the disk plane.
    winding : int
        +1 or -1, the handedness of the arms.
    """

    morphology: str
    half_light: float
    axis_ratio: float
    position_angle: float
    sersic_n: float = 4.0
    bulge_fraction: float = 0.0
    bulge_radius: float = 0.0
    bulge_axis_ratio: float = 1.0
    n_arms: int = 0
    pitch: float = 20.0
    arm_amplitude: float = 0.0
    arm_phase: float = 0.0
    winding: int = 1


def sersic_b(n: float) -> float:
    """Return b_n with which r_e encloses half the light of a Sersic profile of index n.

    Parameters
    ----------
    n : float
        Sersic index.

    Returns
    -------
    float
        The Ciotti & Bertin (1999) asymptotic expansion of b_n.
    """
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


def _sersic(radius: np.ndarray, half_light: float, n: float) -> np.ndarray:
    """Evaluate an unnormalised Sersic profile."""
    return np.exp(-sersic_b(n) * ((radius / half_light) ** (1.0 / n) - 1.0))


def _galaxy_frame(
    xi: np.ndarray, eta: np.ndarray, position_angle: float, axis_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return coordinates along the major axis and the deprojected minor axis."""
    pa = math.radians(position_angle)
    major = xi * math.sin(pa) + eta * math.cos(pa)
    minor = (xi * math.cos(pa) - eta * math.sin(pa)) / axis_ratio
    return major, minor


def _elliptical_model(shape: Shape) -> Model:
    """Return the one-component (Sersic) model of an elliptical."""

    def model(xi: np.ndarray, eta: np.ndarray) -> np.ndarray:
        u, v = _galaxy_frame(xi, eta, shape.position_angle, shape.axis_ratio)
        return _sersic(np.hypot(u, v), shape.half_light, shape.sersic_n)[np.newaxis]

    return model


def _spiral_model(shape: Shape) -> Model:
    """Return the bulge, disk and arm-modulation components of a spiral."""
    scale = shape.half_light / _EXP_HALF_LIGHT
    wind = shape.winding / math.tan(math.radians(shape.pitch))

    def model(xi: np.ndarray, eta: np.ndarray) -> np.ndarray:
        ub, vb = _galaxy_frame(xi, eta, shape.position_angle, shape.bulge_axis_ratio)
        bulge = _sersic(np.hypot(ub, vb), shape.bulge_radius, shape.sersic_n)
        u, v = _galaxy_frame(xi, eta, shape.position_angle, shape.axis_ratio)
        radius = np.maximum(np.hypot(u, v), 1e-3 * scale)
        disk = np.exp(-radius / scale)
        psi = shape.n_arms * (np.arctan2(v, u) - wind * np.log(radius / scale))
        crest = ((1.0 + np.cos(psi - shape.arm_phase)) / 2.0) ** _ARM_SHARPNESS
        inner = 1.0 - np.exp(-((radius / scale) ** 2))
        return np.stack([bulge, disk, disk * (crest / _ARM_MEAN - 1.0) * inner])

    return model


def _model(shape: Shape) -> Model:
    """Return the component model of a galaxy shape."""
    return _spiral_model(shape) if shape.morphology == "spiral" else _elliptical_model(shape)


def _sample(
    model: Model, jacobian: np.ndarray, dx: np.ndarray, dy: np.ndarray, oversample: int
) -> np.ndarray:
    """Average a model over pixels centred at offsets (dx, dy) on an oversampled grid."""
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    px = dx[..., np.newaxis, np.newaxis] + sub[np.newaxis, :]
    py = dy[..., np.newaxis, np.newaxis] + sub[:, np.newaxis]
    xi = jacobian[0, 0] * px + jacobian[0, 1] * py
    eta = jacobian[1, 0] * px + jacobian[1, 1] * py
    return model(xi, eta).mean(axis=(-2, -1))


def galaxy_stamp(
    shape: Shape, jacobian: np.ndarray, offset: tuple[float, float], half: int
) -> np.ndarray:
    """Integrate a galaxy's components over a square stamp of pixels.

    Parameters
    ----------
    shape : Shape
        The galaxy structure.
    jacobian : numpy.ndarray
        2x2 matrix from pixel offsets (x, y) to sky offsets (east, north) in arcsec.
    offset : tuple of float
        Galaxy centre minus the stamp's central pixel, (x, y) in pixels.
    half : int
        The stamp is ``2 * half + 1`` pixels on a side.

    Returns
    -------
    numpy.ndarray
        ``(n_components, 2 * half + 1, 2 * half + 1)``; the bulge and the disk (or the one
        elliptical component) each sum to 1, the arm modulation is in disk units.
    """
    model = _model(shape)
    grid = np.arange(-half, half + 1, dtype=np.float64)
    dx, dy = np.meshgrid(grid - offset[0], grid - offset[1])
    stamp = _sample(model, jacobian, dx, dy, 1)
    core = slice(max(half - _CORE_HALF_PIXELS, 0), half + _CORE_HALF_PIXELS + 1)
    stamp[:, core, core] = _sample(
        model, jacobian, dx[core, core], dy[core, core], _CORE_OVERSAMPLE
    )
    norm = stamp.sum(axis=(1, 2))
    norm[2:] = norm[1:2]  # the arm modulation of a spiral is in units of its disk
    return stamp / norm[:, np.newaxis, np.newaxis]


def band_weights(galaxy: Galaxy, survey: str, band: str) -> np.ndarray:
    """Return how a galaxy's components combine in one band (see `galaxy_stamp`).

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy, with its magnitudes per survey.
    survey : str
        "sdss" or "des".
    band : str
        The band.

    Returns
    -------
    numpy.ndarray
        One weight per component: [1] for an elliptical; [bulge, disk, arms] for a spiral,
        with a redder bulge and bluer arms than the galaxy as a whole.
    """
    shape = galaxy.shape
    if shape.morphology != "spiral":
        return np.ones(1)
    colour = galaxy.mags[survey][band] - galaxy.mags[survey]["r"]
    bulge = shape.bulge_fraction * 10.0 ** (-0.4 * (_BULGE_COLOUR[band] - colour))
    bulge = min(bulge, 0.9)
    arms = min(shape.arm_amplitude * _ARM_BOOST[band], _MAX_ARM_AMPLITUDE)
    return np.array([bulge, 1.0 - bulge, (1.0 - bulge) * arms])


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


def stamp_half_width(shape: Shape, pixel_scale: float) -> int:
    """Return the half-width in pixels of the stamp a galaxy is rendered in.

    Parameters
    ----------
    shape : Shape
        The galaxy structure.
    pixel_scale : float
        Arcsec per pixel.

    Returns
    -------
    int
        ``8`` half-light radii (at most 60 arcsec) in pixels, rounded up.
    """
    radius = min(_STAMP_HALF_LIGHTS * shape.half_light, _MAX_STAMP_ARCSEC)
    return math.ceil(radius / pixel_scale)


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
) -> dict[str, np.ndarray]:
    """Render galaxies, seen through the PSF, into noiseless images in nanomaggies per pixel.

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

    Returns
    -------
    dict
        One float32 image per band of the instrument.
    """
    images = {band: np.zeros(image_shape, dtype=np.float32) for band in instrument.bands}
    if galaxies:
        x, y = wcs.all_world2pix([g.ra for g in galaxies], [g.dec for g in galaxies], 0)
        jacobians = local_jacobians(wcs, x, y)
        for galaxy, xg, yg, jacobian in zip(galaxies, x, y, jacobians, strict=True):
            _add_galaxy(images, galaxy, (float(xg), float(yg)), jacobian, instrument)
    return {band: _convolve(images[band], instrument, band) for band in instrument.bands}


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

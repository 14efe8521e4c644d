"""Galaxy light profiles: Sersic ellipticals, S0 discs, and spirals with bulges, bars and arms.

Each galaxy is modelled in sky coordinates (arcsec east and north of its centre) and integrated
over the pixels of an image through the local Jacobian of the image's WCS, so a rotated SDSS
frame sees the galaxy rotated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    from galcore.sky._population import Galaxy

    Model = Callable[[np.ndarray, np.ndarray], np.ndarray]

_STAMP_HALF_LIGHTS = 8.0  # a stamp reaches this many half-light radii from the centre
MAX_STAMP_ARCSEC = 60.0
_CORE_HALF_PIXELS = 3  # the central 7x7 pixels are integrated on a finer grid
_CORE_OVERSAMPLE = 5
_ARM_SHARPNESS = 3  # arms follow ((1 + cos psi) / 2) ** k
_ARM_MEAN = math.comb(2 * _ARM_SHARPNESS, _ARM_SHARPNESS) / 4.0**_ARM_SHARPNESS
_EXP_HALF_LIGHT = 1.678  # half-light radius of an exponential disk in scale lengths
_MAX_ARM_AMPLITUDE = 0.95
_LN2 = math.log(2.0)
# Colour (m_band - m_r) of an old, red bulge (and bar); spirals are bluer overall, so their
# bulge fraction falls towards the blue.
_BULGE_COLOUR = {"u": 2.5, "g": 0.78, "r": 0.0, "i": -0.40, "z": -0.75, "Y": -0.85}
# Star-forming arms are blue: their contrast grows towards the blue bands.
_ARM_BOOST = {"u": 1.5, "g": 1.3, "r": 1.0, "i": 0.8, "z": 0.7, "Y": 0.65}
_MAX_BULGE = 0.9


@dataclass(frozen=True)
class Shape:
    """Structure of one galaxy on the sky (sizes in arcsec, angles in degrees).

    A galaxy is one Sersic component (an elliptical) or a disk galaxy: a Sersic bulge, an
    exponential disk and, in spirals, arms and sometimes a bar. An S0 is a disk galaxy of
    class "elliptical": a bulge and a disk without arms or bar.

    Parameters
    ----------
    morphology : str
        The class, "elliptical" (ellipticals and S0s) or "spiral".
    half_light : float
        Semi-major half-light radius of the galaxy (of the disk for disk galaxies).
    axis_ratio : float
        Minor over major axis of the galaxy (of the disk for disk galaxies).
    position_angle : float
        Major axis, east of north.
    sersic_n : float
        Sersic index of the elliptical or of the bulge.
    bulge_fraction : float
        Bulge-to-total flux ratio in r; 0 for an elliptical (it has no disk).
    bulge_radius, bulge_axis_ratio : float
        Half-light radius and axis ratio of the bulge.
    n_arms : int
        Number of spiral arms (0 for none).
    pitch : float
        Pitch angle of the logarithmic arms.
    arm_amplitude : float
        Arm contrast in r, 0 (none) to about 0.9.
    arm_phase : float
        Rotation of the arm pattern in the disk plane.
    winding : int
        +1 or -1, the handedness of the arms.
    bar_fraction : float
        Share of the disk's light in a bar (0 for none).
    bar_length : float
        Half-length of the bar in the disk plane; arms start at its ends.
    bar_angle : float
        Angle of the bar from the disk's major axis, in the disk plane, in radians.
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
    bar_fraction: float = 0.0
    bar_length: float = 0.0
    bar_angle: float = 0.0

    @property
    def has_disk(self) -> bool:
        """Return whether the galaxy is a disk galaxy (a spiral or an S0)."""
        return self.morphology == "spiral" or self.bulge_fraction > 0.0

    @property
    def kind(self) -> str:
        """Return "elliptical", "S0" or "spiral"."""
        if self.morphology == "spiral":
            return "spiral"
        return "S0" if self.has_disk else "elliptical"


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


def _disk_model(shape: Shape) -> Model:
    """Return the bulge, disk, arm-modulation and bar components of a disk galaxy."""
    scale = shape.half_light / _EXP_HALF_LIGHT
    wind = shape.winding / math.tan(math.radians(shape.pitch))
    start = max(shape.bar_length, scale)  # arms grow from the bar's ends or the inner disk
    bar_cos, bar_sin = math.cos(shape.bar_angle), math.sin(shape.bar_angle)

    def model(xi: np.ndarray, eta: np.ndarray) -> np.ndarray:
        ub, vb = _galaxy_frame(xi, eta, shape.position_angle, shape.bulge_axis_ratio)
        bulge = _sersic(np.hypot(ub, vb), shape.bulge_radius, shape.sersic_n)
        u, v = _galaxy_frame(xi, eta, shape.position_angle, shape.axis_ratio)
        radius = np.maximum(np.hypot(u, v), 1e-3 * scale)
        disk = np.exp(-radius / scale)
        components = [bulge, disk, np.zeros_like(disk), np.zeros_like(disk)]
        if shape.n_arms:
            psi = shape.n_arms * (np.arctan2(v, u) - wind * np.log(radius / start))
            crest = ((1.0 + np.cos(psi - shape.arm_phase)) / 2.0) ** _ARM_SHARPNESS
            inner = 1.0 - np.exp(-((radius / start) ** 2))
            components[2] = disk * (crest / _ARM_MEAN - 1.0) * inner
        if shape.bar_fraction > 0.0:
            along = (u * bar_cos + v * bar_sin) / shape.bar_length
            across = (v * bar_cos - u * bar_sin) / (0.25 * shape.bar_length)
            components[3] = np.exp(-_LN2 * (along**4 + across**2))
        return np.stack(components)

    return model


def _model(shape: Shape) -> Model:
    """Return the component model of a galaxy shape."""
    return _disk_model(shape) if shape.has_disk else _elliptical_model(shape)


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
        ``(n_components, 2 * half + 1, 2 * half + 1)``: the one component of an elliptical,
        or the bulge, disk, arm modulation and bar of a disk galaxy. Each sums to 1 except
        the arm modulation, which is in disk units (and sums to about 0), and an absent bar.
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
    if len(norm) > 1:
        norm[2] = norm[1]  # the arm modulation is in units of the disk
        norm[3] = norm[3] or 1.0
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
        One weight per component: [1] for an elliptical; [bulge, disk, arms, bar] for a disk
        galaxy, with a redder bulge and bar and bluer arms than the galaxy as a whole.
    """
    shape = galaxy.shape
    if not shape.has_disk:
        return np.ones(1)
    colour = galaxy.mags[survey][band] - galaxy.mags[survey]["r"]
    total = shape.bulge_fraction + shape.bar_fraction
    old = min(total * 10.0 ** (-0.4 * (_BULGE_COLOUR[band] - colour)), _MAX_BULGE)
    share = old / total if total else 0.0
    bulge, bar = shape.bulge_fraction * share, shape.bar_fraction * share
    disk = 1.0 - bulge - bar
    arms = min(shape.arm_amplitude * _ARM_BOOST[band], _MAX_ARM_AMPLITUDE)
    return np.array([bulge, disk, disk * arms, bar])


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
    radius = min(_STAMP_HALF_LIGHTS * shape.half_light, MAX_STAMP_ARCSEC)
    return math.ceil(radius / pixel_scale)

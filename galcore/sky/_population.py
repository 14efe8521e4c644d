"""The galaxy population: positions, structure, colours and the Galaxy Zoo crowd's votes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from galcore.sky._render import Shape

if TYPE_CHECKING:
    from collections.abc import Mapping

MORPHOLOGIES = ("elliptical", "spiral")
VOTE_CLASSES = ("EL", "CW", "ACW", "EDGE", "DK", "MG")
CONFIDENT_SPIRAL = 0.985  # P_CS_DEBIASED threshold of the paper's curation
CONFIDENT_ELLIPTICAL = 0.926  # P_EL_DEBIASED threshold
FLAG_THRESHOLD = 0.8  # Galaxy Zoo 1 SPIRAL / ELLIPTICAL flags

_AB_ZERO_NMGY = 22.5  # m = 22.5 - 2.5 log10(flux in nanomaggies)
_SPIRAL_FRACTION = 0.5
_MAG_RANGE = (14.0, 17.7)  # r, the SDSS main galaxy sample stops at 17.77
_COUNT_SLOPE = 0.3  # dlog10(N)/dm: faint galaxies are the most numerous
_SIZE_PIVOT = (16.0, 3.5)  # (r mag, typical half-light radius in arcsec)
_SIZE_SLOPE = -0.18  # dlog10(r_e)/dm: brighter galaxies look bigger
_SIZE_SCATTER = 0.12  # dex
_ELLIPTICAL_SIZE = 0.85  # ellipticals are more compact at the same magnitude
_SIZE_RANGE = (2.0, 8.0)
_DISK_THICKNESS = 0.3  # axis ratio of an edge-on disk
# (mean, sigma) of u-g, g-r, r-i, i-z
_COLOURS = {
    "elliptical": ((1.75, 0.10), (0.75, 0.04), (0.40, 0.03), (0.35, 0.03)),
    "spiral": ((1.25, 0.15), (0.45, 0.07), (0.25, 0.05), (0.18, 0.05)),
}
_ARM_COUNTS = ((2, 3, 4), (0.7, 0.2, 0.1))

_CLARITY_PIVOT = (19.2, 2.5)  # (r mag, half-light arcsec) of a galaxy with clarity 1/2
_CLARITY_PER_MAG = 0.9
_CLARITY_PER_SIZE_DOUBLING = 1.6
_CLARITY_SPIRAL = 0.8  # arms and disks catch the eye
_CLARITY_SCATTER = 0.8
_MEAN_VOTES = 38
_VOTE_RANGE = (20, 60)
_CROWD_ERROR_RATE = 0.012  # the crowd sees the other class
_EDGE_ON = 0.45  # spirals flatter than this get EDGE votes
_WRONG_CLASS_SHARE = 0.75  # of the doubtful votes; the rest go to DK and MG
_DONT_KNOW_SHARE = 0.2


@dataclass(frozen=True)
class Galaxy:
    """One galaxy of the synthetic sky.

    Parameters
    ----------
    index : int
        Row of the galaxy in truth.csv.
    ra, dec : float
        True position in degrees.
    shape : Shape
        Structure on the sky.
    mags : Mapping
        AB magnitudes per survey ("sdss": u g r i z, "des": g r i z Y).
    """

    index: int
    ra: float
    dec: float
    shape: Shape
    mags: Mapping[str, Mapping[str, float]]

    @property
    def morphology(self) -> str:
        """Return the true class, "elliptical" or "spiral"."""
        return self.shape.morphology

    def flux(self, survey: str, band: str) -> float:
        """Return the total flux in nanomaggies.

        Parameters
        ----------
        survey : str
            "sdss" or "des".
        band : str
            One of the survey's bands.

        Returns
        -------
        float
            ``10 ** (-0.4 * (m - 22.5))``.
        """
        return 10.0 ** (-0.4 * (self.mags[survey][band] - _AB_ZERO_NMGY))


def candidate_positions(
    bounds: tuple[float, float, float, float],
    *,
    spacing: float,
    jitter: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Return jittered grid positions at least ``spacing - 2 * jitter`` arcsec apart.

    Parameters
    ----------
    bounds : tuple of float
        (ra_min, ra_max, dec_min, dec_max) in degrees.
    spacing : float
        Grid step in arcsec.
    jitter : float
        Each coordinate moves by up to this many arcsec.
    rng : numpy.random.Generator
        Random numbers.

    Returns
    -------
    tuple of numpy.ndarray
        RA and Dec in degrees.
    """
    ra_min, ra_max, dec_min, dec_max = bounds
    step = spacing / 3600.0
    dec = np.arange(dec_min, dec_max, step)
    ra = np.arange(ra_min, ra_max, step / math.cos(math.radians((dec_min + dec_max) / 2)))
    ra_grid, dec_grid = (a.ravel() for a in np.meshgrid(ra, dec))
    shift = rng.uniform(-jitter, jitter, size=(2, ra_grid.size)) / 3600.0
    return ra_grid + shift[0] / np.cos(np.radians(dec_grid)), dec_grid + shift[1]


def draw_galaxies(ra: np.ndarray, dec: np.ndarray, *, rng: np.random.Generator) -> list[Galaxy]:
    """Draw a galaxy at each position: half ellipticals, half spirals.

    Parameters
    ----------
    ra, dec : numpy.ndarray
        Positions in degrees; galaxy ``k`` gets index ``k``.
    rng : numpy.random.Generator
        Random numbers.

    Returns
    -------
    list of Galaxy
        Magnitudes r in 14-17.7 (mostly faint), half-light radii 2-8 arcsec (bright ones
        bigger), red ellipticals (g-r ~ 0.75) and blue spirals (g-r ~ 0.45).
    """
    n = len(ra)
    spiral = rng.random(n) < _SPIRAL_FRACTION
    mag_r = _draw_magnitudes(n, rng)
    log_size = (
        math.log10(_SIZE_PIVOT[1])
        + _SIZE_SLOPE * (mag_r - _SIZE_PIVOT[0])
        + rng.normal(0.0, _SIZE_SCATTER, n)
    )
    size = np.clip(10.0**log_size * np.where(spiral, 1.0, _ELLIPTICAL_SIZE), *_SIZE_RANGE)
    galaxies = []
    for k in range(n):
        morphology = MORPHOLOGIES[int(spiral[k])]
        shape = _draw_shape(morphology, float(size[k]), rng)
        mags = _draw_mags(morphology, float(mag_r[k]), rng)
        galaxies.append(Galaxy(k, float(ra[k]), float(dec[k]), shape, mags))
    return galaxies


def _draw_magnitudes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw r magnitudes from counts rising as 10 ** (slope * m) within the survey limits."""
    low, high = (10.0 ** (_COUNT_SLOPE * m) for m in _MAG_RANGE)
    return np.log10(rng.uniform(low, high, n)) / _COUNT_SLOPE


def _draw_shape(morphology: str, half_light: float, rng: np.random.Generator) -> Shape:
    """Draw the structure of an elliptical or a spiral of a given size."""
    position_angle = rng.uniform(0.0, 180.0)
    if morphology == "elliptical":
        return Shape(
            morphology, half_light, rng.uniform(0.6, 1.0), position_angle, rng.uniform(3.0, 5.0)
        )
    cos_incl = rng.uniform(0.0, 1.0)
    axis_ratio = math.sqrt(cos_incl**2 * (1.0 - _DISK_THICKNESS**2) + _DISK_THICKNESS**2)
    return Shape(
        morphology,
        half_light,
        axis_ratio,
        position_angle,
        sersic_n=rng.uniform(2.5, 4.0),
        bulge_fraction=rng.uniform(0.05, 0.3),
        bulge_radius=rng.uniform(0.12, 0.25) * half_light,
        bulge_axis_ratio=rng.uniform(0.75, 1.0),
        n_arms=int(rng.choice(_ARM_COUNTS[0], p=_ARM_COUNTS[1])),
        pitch=rng.uniform(12.0, 28.0),
        arm_amplitude=rng.uniform(0.5, 0.85),
        arm_phase=rng.uniform(0.0, 2.0 * math.pi),
        winding=int(rng.choice((-1, 1))),
    )


def _draw_mags(morphology: str, mag_r: float, rng: np.random.Generator) -> dict:
    """Draw SDSS colours for a class and derive the DES magnitudes from them."""
    u_g, g_r, r_i, i_z = (rng.normal(mean, sigma) for mean, sigma in _COLOURS[morphology])
    g = mag_r + g_r
    i = mag_r - r_i
    z = i - i_z
    sdss = {"u": g + u_g, "g": g, "r": mag_r, "i": i, "z": z}
    # Approximate SDSS -> DES transformations (DES DR1 style); they shift colours a little.
    des_z = z - 0.086 * i_z - 0.01
    des = {
        "g": g - 0.104 * g_r + 0.01,
        "r": mag_r - 0.102 * g_r - 0.02,
        "i": i - 0.256 * i_z - 0.02,
        "z": des_z,
        "Y": des_z - 0.25 * i_z - 0.05,
    }
    return {"sdss": sdss, "des": des}


@dataclass(frozen=True)
class ZooVotes:
    """Galaxy Zoo 1 votes for one galaxy.

    Parameters
    ----------
    counts : tuple of int
        Votes per class, in the order of `VOTE_CLASSES`.
    p_el_debiased, p_cs_debiased : float
        Debiased elliptical and combined-spiral fractions, rounded to 3 decimals.
    """

    counts: tuple[int, ...]
    p_el_debiased: float
    p_cs_debiased: float

    @property
    def nvote(self) -> int:
        """Return the number of voters."""
        return sum(self.counts)

    def fraction(self, name: str) -> float:
        """Return the vote fraction of one class of `VOTE_CLASSES`, or "CS" (CW + ACW + EDGE).

        Parameters
        ----------
        name : str
            A class name.

        Returns
        -------
        float
            Rounded to 3 decimals as in the published table.
        """
        spiral = name == "CS"
        votes = sum(self.counts[1:4]) if spiral else self.counts[VOTE_CLASSES.index(name)]
        return round(votes / self.nvote, 3)

    @property
    def label(self) -> str:
        """Return the class with the larger debiased fraction."""
        return "spiral" if self.p_cs_debiased > self.p_el_debiased else "elliptical"

    @property
    def confident(self) -> bool:
        """Return whether the galaxy passes the paper's confidence threshold for its label."""
        if self.label == "spiral":
            return self.p_cs_debiased >= CONFIDENT_SPIRAL
        return self.p_el_debiased >= CONFIDENT_ELLIPTICAL


def draw_zoo_votes(galaxy: Galaxy, *, rng: np.random.Generator) -> ZooVotes:
    """Draw the crowd's votes for a galaxy seen in SDSS.

    Big, bright galaxies are clear and voters agree (often all of them); small, faint ones are
    ambiguous. Now and then the whole crowd sees the wrong class.

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    rng : numpy.random.Generator
        Random numbers.

    Returns
    -------
    ZooVotes
        20-60 votes and their debiased fractions.
    """
    clarity = _clarity(galaxy, rng)
    perceived = galaxy.morphology
    if rng.random() < _CROWD_ERROR_RATE:
        perceived = MORPHOLOGIES[1 - MORPHOLOGIES.index(perceived)]
    nvote = int(np.clip(rng.poisson(_MEAN_VOTES), *_VOTE_RANGE))
    counts = rng.multinomial(nvote, _vote_probabilities(perceived, galaxy.shape, clarity))
    return _debias(tuple(int(c) for c in counts), galaxy.mags["sdss"]["r"])


def _clarity(galaxy: Galaxy, rng: np.random.Generator) -> float:
    """Return how clearly a galaxy shows its class, 0 (not at all) to 1, from size and flux."""
    score = (
        _CLARITY_PER_SIZE_DOUBLING * math.log2(galaxy.shape.half_light / _CLARITY_PIVOT[1])
        + _CLARITY_PER_MAG * (_CLARITY_PIVOT[0] - galaxy.mags["sdss"]["r"])
        + _CLARITY_SPIRAL * (galaxy.morphology == "spiral")
        + rng.normal(0.0, _CLARITY_SCATTER)
    )
    return 1.0 / (1.0 + math.exp(-score))


def _vote_probabilities(perceived: str, shape: Shape, clarity: float) -> np.ndarray:
    """Return the chance of one vote for each of `VOTE_CLASSES`."""
    doubt = 0.5 * (1.0 - clarity)
    believed, other = 1.0 - doubt, doubt * _WRONG_CLASS_SHARE
    elliptical, spiral = (believed, other) if perceived == "elliptical" else (other, believed)
    cw, acw, edge = _spiral_split(shape)
    dont_know = doubt * _DONT_KNOW_SHARE
    merger = doubt - other - dont_know
    return np.array([elliptical, spiral * cw, spiral * acw, spiral * edge, dont_know, merger])


def _spiral_split(shape: Shape) -> tuple[float, float, float]:
    """Return how spiral votes split over (CW, ACW, EDGE)."""
    if shape.morphology != "spiral":
        return 0.45, 0.45, 0.1
    if shape.axis_ratio < _EDGE_ON:
        return 0.075, 0.075, 0.85
    # winding +1 arms turn counter-clockwise outwards on a north-up, east-left display.
    return (0.12, 0.8, 0.08) if shape.winding > 0 else (0.8, 0.12, 0.08)


def _debias(counts: tuple[int, ...], mag_r: float) -> ZooVotes:
    """Move a little elliptical weight to spirals for faint galaxies (Galaxy Zoo debiasing)."""
    nvote = sum(counts)
    p_el, p_cs = counts[0] / nvote, sum(counts[1:4]) / nvote
    shift = 2.0 * min(max(0.05 * (mag_r - 15.0), 0.0), 0.15) * p_el * p_cs
    p_cs_debiased = round(p_cs + shift, 3)
    p_el_debiased = min(round(p_el - shift, 3), round(1.0 - p_cs_debiased, 3))
    return ZooVotes(counts, p_el_debiased, p_cs_debiased)

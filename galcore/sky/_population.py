"""The galaxy population: positions, structure, colours and the Galaxy Zoo crowd's votes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from galcore.sky._profiles import Shape
from galcore.sky._render import SDSS

if TYPE_CHECKING:
    from collections.abc import Mapping

MORPHOLOGIES = ("elliptical", "spiral")
VOTE_CLASSES = ("EL", "CW", "ACW", "EDGE", "DK", "MG")
CONFIDENT_SPIRAL = 0.985  # P_CS_DEBIASED threshold of the paper's curation
CONFIDENT_ELLIPTICAL = 0.926  # P_EL_DEBIASED threshold
FLAG_THRESHOLD = 0.8  # Galaxy Zoo 1 SPIRAL / ELLIPTICAL flags

AB_ZERO_NMGY = 22.5  # m = 22.5 - 2.5 log10(flux in nanomaggies)
_SPIRAL_FRACTION = 0.5
MAG_RANGE = (14.0, 17.7)  # r, the SDSS main galaxy sample stops at 17.77
_COUNT_SLOPE = 0.3  # dlog10(N)/dm: faint galaxies are the most numerous
_SIZE_PIVOT = (16.0, 3.5)  # (r mag, typical half-light radius in arcsec)
_SIZE_SLOPE = -0.18  # dlog10(r_e)/dm: brighter galaxies look bigger
_SIZE_SCATTER = 0.12  # dex
_ELLIPTICAL_SIZE = 0.85  # ellipticals are more compact at the same magnitude
_SIZE_RANGE = (0.5, 8.0)
_DISK_THICKNESS = 0.2  # axis ratio of an edge-on disk
_S0_FRACTION = 0.3  # of the "elliptical" class: bulge + disk, no arms
_BAR_FRACTION = 0.3  # of spirals
_ELLIPTICITY_BETA = (2.0, 3.5)  # E0-E7: ellipticity 0.7 * Beta(a, b), most of them E1-E3
# Colours: the red sequence and the blue cloud overlap. Ellipticals are red, a few bluer;
# spirals redden with their bulge (an Sa with B/T 0.5 is as red as an S0).
# (mean, sigma) of u-g, g-r, r-i, i-z, and their change per unit of bulge fraction (spirals)
_COLOURS = {
    "elliptical": ((1.72, 0.12), (0.74, 0.05), (0.39, 0.03), (0.33, 0.04)),
    "spiral": ((1.20, 0.16), (0.44, 0.09), (0.24, 0.05), (0.17, 0.05)),
}
_COLOUR_PER_BULGE = (1.0, 0.55, 0.26, 0.26)
_BLUE_ELLIPTICALS = 0.1  # share of ellipticals bluer by _BLUE_SHIFT in every colour
_BLUE_SHIFT = 0.5  # times the elliptical-spiral difference
_ARM_COUNTS = ((2, 3, 4), (0.7, 0.2, 0.1))

_EXP_HALF_LIGHT_B = 1.678  # an exponential disk's b_1
_CLARITY_PIVOT = (19.2, 2.5)  # (r mag, half-light arcsec) of a galaxy with clarity 1/2
_CLARITY_PER_MAG = 0.9
_CLARITY_PER_SIZE_DOUBLING = 1.6
_CLARITY_PER_ARM_DOUBLING = 3.0  # spirals: per doubling of the arms' visibility
_RESOLVED_SEEINGS = 4.0  # a disk shows its arms when its half-light radius is 4 seeing FWHM
_CLEAR_ARMS = 0.38  # arm visibility of a spiral with clarity 1/2
_DISK_AT_1_5_RE = math.exp(-_EXP_HALF_LIGHT_B * 0.5)
_CLARITY_S0 = -3.0  # a disk without arms is ambiguous
_CLARITY_FLAT_E = -2.0  # per unit of ellipticity above 0.4: an E6 looks like a disk
_CLARITY_SCATTER = 0.8
_MEAN_VOTES = 38
_VOTE_RANGE = (20, 60)
# The crowd sees the other class now and then, most often where the class is hard to see.
# Confident labels are then wrong for about 0.15% of galaxies: the paper's 99.81% on its HP
# SDSS test, scored against them, bounds their error at about 0.2% on the real sky.
_CROWD_ERROR_RATE = 0.001
_CROWD_ERROR_PER_DOUBT = 0.05  # more, per unit of (1 - clarity)
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
        return 10.0 ** (-0.4 * (self.mags[survey][band] - AB_ZERO_NMGY))


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


def draw_galaxies(
    ra: np.ndarray,
    dec: np.ndarray,
    *,
    rng: np.random.Generator,
    mag_range: tuple[float, float] = MAG_RANGE,
    first_index: int = 0,
) -> list[Galaxy]:
    """Draw a galaxy at each position: half of class elliptical, half spiral.

    Parameters
    ----------
    ra, dec : numpy.ndarray
        Positions in degrees; galaxy ``k`` gets index ``first_index + k``.
    rng : numpy.random.Generator
        Random numbers.
    mag_range : tuple of float
        r magnitudes drawn, with counts rising towards the faint end (the SDSS main galaxy
        sample by default; fainter for the uncatalogued neighbours).
    first_index : int
        Index of the first galaxy.

    Returns
    -------
    list of Galaxy
        Ellipticals from E0 to E7, S0s (bulge and disk, no arms) and spirals of every
        inclination with bulges of every size, bars in some and arms of varied contrast;
        half-light radii from the size-magnitude relation; colours whose classes overlap.
    """
    n = len(ra)
    spiral = rng.random(n) < _SPIRAL_FRACTION
    mag_r = _draw_magnitudes(n, mag_range, rng)
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
        mags = _draw_mags(shape, float(mag_r[k]), rng)
        galaxies.append(Galaxy(first_index + k, float(ra[k]), float(dec[k]), shape, mags))
    return galaxies


def _draw_magnitudes(
    n: int, mag_range: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """Draw r magnitudes from counts rising as 10 ** (slope * m) within a range."""
    low, high = (10.0 ** (_COUNT_SLOPE * m) for m in mag_range)
    return np.log10(rng.uniform(low, high, n)) / _COUNT_SLOPE


def _disk_axis_ratio(rng: np.random.Generator) -> float:
    """Return the axis ratio of a thick disk seen at a random inclination."""
    cos_incl = rng.uniform(0.0, 1.0)
    return math.sqrt(cos_incl**2 * (1.0 - _DISK_THICKNESS**2) + _DISK_THICKNESS**2)


def _draw_shape(morphology: str, half_light: float, rng: np.random.Generator) -> Shape:
    """Draw the structure of an elliptical, an S0 or a spiral of a given size."""
    position_angle = rng.uniform(0.0, 180.0)
    if morphology == "elliptical" and rng.random() >= _S0_FRACTION:
        axis_ratio = 1.0 - 0.7 * rng.beta(*_ELLIPTICITY_BETA)
        return Shape(morphology, half_light, axis_ratio, position_angle, rng.uniform(3.0, 6.0))
    disk = {
        "half_light": half_light,
        "axis_ratio": _disk_axis_ratio(rng),
        "position_angle": position_angle,
        "bulge_axis_ratio": rng.uniform(0.7, 1.0),
    }
    if morphology == "elliptical":  # an S0
        return Shape(
            morphology,
            **disk,
            sersic_n=rng.uniform(2.5, 4.5),
            bulge_fraction=rng.uniform(0.3, 0.7),
            bulge_radius=rng.uniform(0.15, 0.3) * half_light,
        )
    bulge_fraction = 0.02 + 0.6 * rng.beta(1.5, 3.5)
    barred = rng.random() < _BAR_FRACTION
    n_arms = 2 if barred else int(rng.choice(_ARM_COUNTS[0], p=_ARM_COUNTS[1]))
    return Shape(
        morphology,
        **disk,
        sersic_n=rng.uniform(2.0, 4.0),
        bulge_fraction=bulge_fraction,
        bulge_radius=rng.uniform(0.12, 0.25) * half_light,
        n_arms=n_arms,
        pitch=rng.uniform(10.0, 30.0),
        arm_amplitude=rng.uniform(0.55, 0.9),
        arm_phase=rng.uniform(0.0, 2.0 * math.pi),
        winding=int(rng.choice((-1, 1))),
        bar_fraction=rng.uniform(0.08, 0.2) if barred else 0.0,
        bar_length=rng.uniform(0.5, 0.9) * half_light if barred else 0.0,
        bar_angle=rng.uniform(0.0, math.pi),
    )


def _draw_mags(shape: Shape, mag_r: float, rng: np.random.Generator) -> dict:
    """Draw SDSS colours for a galaxy's class and bulge, and derive its DES magnitudes."""
    colours = np.array([rng.normal(mean, sigma) for mean, sigma in _COLOURS[shape.morphology]])
    if shape.morphology == "spiral":
        colours += np.array(_COLOUR_PER_BULGE) * shape.bulge_fraction
    elif rng.random() < _BLUE_ELLIPTICALS:
        gap = np.array([e[0] - s[0] for e, s in zip(*_COLOURS.values(), strict=True)])
        colours -= _BLUE_SHIFT * gap
    sdss = sdss_magnitudes(mag_r, tuple(colours))
    return {"sdss": sdss, "des": des_magnitudes(sdss)}


def sdss_magnitudes(mag_r: float, colours: tuple[float, ...]) -> dict[str, float]:
    """Return SDSS u g r i z from r and the colours (u-g, g-r, r-i, i-z).

    Parameters
    ----------
    mag_r : float
        The r magnitude.
    colours : tuple of float
        u-g, g-r, r-i and i-z.

    Returns
    -------
    dict
        AB magnitudes by band.
    """
    u_g, g_r, r_i, i_z = colours
    g, i = mag_r + g_r, mag_r - r_i
    return {"u": g + u_g, "g": g, "r": mag_r, "i": i, "z": i - i_z}


def des_magnitudes(sdss: Mapping[str, float]) -> dict[str, float]:
    """Return DES g r i z Y from SDSS u g r i z (approximate DES DR1 transformations).

    Parameters
    ----------
    sdss : Mapping
        SDSS AB magnitudes by band.

    Returns
    -------
    dict
        DES AB magnitudes by band; the transformations shift colours a little.
    """
    g_r, i_z = sdss["g"] - sdss["r"], sdss["i"] - sdss["z"]
    des_z = sdss["z"] - 0.086 * i_z - 0.01
    return {
        "g": sdss["g"] - 0.104 * g_r + 0.01,
        "r": sdss["r"] - 0.102 * g_r - 0.02,
        "i": sdss["i"] - 0.256 * i_z - 0.02,
        "z": des_z,
        "Y": des_z - 0.25 * i_z - 0.05,
    }


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
    if rng.random() < _CROWD_ERROR_RATE + _CROWD_ERROR_PER_DOUBT * (1.0 - clarity):
        perceived = MORPHOLOGIES[1 - MORPHOLOGIES.index(perceived)]
    nvote = int(np.clip(rng.poisson(_MEAN_VOTES), *_VOTE_RANGE))
    counts = rng.multinomial(nvote, _vote_probabilities(perceived, galaxy.shape, clarity))
    return _debias(tuple(int(c) for c in counts), galaxy.mags["sdss"]["r"])


def _clarity(galaxy: Galaxy, rng: np.random.Generator) -> float:
    """Return how clearly a galaxy shows its class in SDSS, 0 (not at all) to 1.

    Voters saw SDSS images: a spiral is clear when its arms stand out of SDSS's noise (contrast,
    surface brightness, size against the seeing, a face-on view); an elliptical when it is big,
    bright and plainly smooth. S0s and flat ellipticals look like disks without arms.
    """
    if galaxy.morphology == "spiral":
        score = _CLARITY_PER_ARM_DOUBLING * math.log2(_arm_visibility(galaxy) / _CLEAR_ARMS)
    else:
        score = (
            _CLARITY_PER_SIZE_DOUBLING * math.log2(galaxy.shape.half_light / _CLARITY_PIVOT[1])
            + _CLARITY_PER_MAG * (_CLARITY_PIVOT[0] - galaxy.mags["sdss"]["r"])
            + _smooth_clarity(galaxy.shape)
        )
    return 1.0 / (1.0 + math.exp(-(score + rng.normal(0.0, _CLARITY_SCATTER))))


def _arm_visibility(galaxy: Galaxy) -> float:
    """Return the signal of a spiral's arms over SDSS's r-band noise, resolved and face-on.

    The arms' contrast times the disk's surface brightness at 1.5 half-light radii, in units of
    SDSS's noise per square arcsecond, scaled down for disks smaller than twice the seeing and
    for inclined ones (a disk flatter than 0.3 shows no arms).
    """
    shape = galaxy.shape
    disk = (1.0 - shape.bulge_fraction) * galaxy.flux("sdss", "r")
    brightness = disk / (2.0 * math.pi * shape.half_light**2) * _DISK_AT_1_5_RE
    noise = SDSS.sky_sigma["r"] / SDSS.pixel_scale**2
    resolved = min(shape.half_light / (_RESOLVED_SEEINGS * SDSS.psf_fwhm["r"]), 1.0)
    face_on = min(max((shape.axis_ratio - 0.3) / 0.5, 0.0), 1.0)
    return shape.arm_amplitude * brightness / noise * resolved * face_on + 1e-6


def _smooth_clarity(shape: Shape) -> float:
    """Return what an elliptical's shape takes from its clarity: S0 disks and flat ones."""
    if shape.kind == "S0":
        return _CLARITY_S0
    return _CLARITY_FLAT_E * max(0.6 - shape.axis_ratio, 0.0)


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

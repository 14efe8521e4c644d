"""The synthetic sky's catalogs: what each survey measured of its galaxies, as CSV rows.

Catalog entries hold what SDSS (with Galaxy Zoo's votes) and DES measured for a galaxy, with
their small measurement errors; the ``*_row`` functions format them as the real tables do.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from galcore.sky._population import FLAG_THRESHOLD, VOTE_CLASSES
from galcore.sky._render import DES, SDSS
from galcore.sky._writers import RERUN

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from galcore.sky._population import Galaxy, ZooVotes
    from galcore.sky._writers import DesTile, SdssFrame

GZ_TABLE = "GalaxyZoo1_DR_table2.csv"
SDSS_PHOTOOBJ = "sdss_photoobj.csv"
DES_CATALOG = "des_dr1_main.csv"
TRUTH = "truth.csv"

GZ_COLUMNS = (
    "OBJID,RA,DEC,NVOTE,P_EL,P_CW,P_ACW,P_EDGE,P_DK,P_MG,P_CS,"
    "P_EL_DEBIASED,P_CS_DEBIASED,SPIRAL,ELLIPTICAL,UNCERTAIN"
).split(",")
PHOTOOBJ_COLUMNS = "objid,ra,dec,u,g,r,i,z,run,rerun,camcol,field,petroRad_r".split(",")
DES_BANDS = ("G", "R", "I", "Z", "Y")
DES_COLUMNS = [
    "COADD_OBJECT_ID",
    "TILENAME",
    "RA",
    "DEC",
    "ALPHAWIN_J2000",
    "DELTAWIN_J2000",
    "XWIN_IMAGE",
    "YWIN_IMAGE",
    "KRON_RADIUS",
    *(f"MAG_AUTO_{b}" for b in DES_BANDS),
    *(f"FLUX_RADIUS_{b}" for b in DES_BANDS),
    "SPREAD_MODEL_I",
    "WAVG_SPREAD_MODEL_I",
    "FLAGS_G",
    "FLAGS_R",
    "FLAGS_I",
]
TRUTH_COLUMNS = (
    "galaxy_index,morphology,sdss_objid,des_coadd_object_id,ra,dec,mag_r,half_light_arcsec,"
    "in_sdss,in_des,defect,defect_survey,g_r,r_i,axis_ratio,position_angle,sersic_n,"
    "bulge_fraction,n_arms,winding,sdss_run,sdss_camcol,sdss_field,"
    "gz_p_el_debiased,gz_p_cs_debiased,gz_label,gz_confident,des_tilename,"
    "kind,arm_amplitude,bar_fraction"
).split(",")

MISSING = 99.0  # DES convention for an unmeasured magnitude (-99 for other quantities)

_DES_FLAGS = ((0, 1, 2, 3), (0.94, 0.03, 0.02, 0.01))
_DES_MISSING_Y = 0.03
_DES_MISSING_WAVG = 0.02
_SDSS_ASTROMETRY_ERROR = 0.02  # arcsec per coordinate
_DES_ASTROMETRY_ERROR = 0.01
_SDSS_MAG_ERROR = {"u": 0.05, "g": 0.015, "r": 0.01, "i": 0.012, "z": 0.03}
_DES_MAG_ERROR = 0.01
_PETROSIAN_PER_HALF_LIGHT = {"elliptical": 1.8, "spiral": 2.15}


def format_ra(ra: float) -> str:
    """Format a right ascension as Galaxy Zoo does: ``HH:MM:SS.ss``.

    Parameters
    ----------
    ra : float
        Degrees.

    Returns
    -------
    str
        Sexagesimal hours, rounded to 0.01 s.
    """
    centis = round((ra % 360.0) / 15.0 * 360_000) % (24 * 360_000)
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


def format_dec(dec: float) -> str:
    """Format a declination as Galaxy Zoo does: ``±DD:MM:SS.s``.

    Parameters
    ----------
    dec : float
        Degrees.

    Returns
    -------
    str
        Sexagesimal degrees rounded to 0.1 arcsec; the sign is always written, so a
        declination just below zero reads ``-00:...``.
    """
    sign = "-" if dec < 0 else "+"
    tenths = round(abs(dec) * 36_000)
    degrees, rest = divmod(tenths, 36_000)
    minutes, rest = divmod(rest, 600)
    return f"{sign}{degrees:02d}:{minutes:02d}:{rest // 10:02d}.{rest % 10}"


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV file with a header line and Unix line endings.

    Parameters
    ----------
    path : pathlib.Path
        File to write.
    columns : Sequence of str
        Header.
    rows : Iterable of Sequence
        Rows, already formatted (``str`` of each value is written).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with path.open("w", newline="", encoding="ascii") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    return path


@dataclass(frozen=True)
class SdssEntry:
    """What SDSS and Galaxy Zoo say about one galaxy.

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    frame : SdssFrame
        The field named in the catalog (a wrong one for a defect).
    objid : int
        SDSS objid, encoding ``frame``.
    votes : ZooVotes
        Galaxy Zoo votes.
    ra, dec : float
        Measured position in degrees.
    mags : Mapping
        Measured u g r i z.
    petro_rad : float
        Petrosian radius in r, arcsec.
    defect : str
        "", "missing_band" or "off_frame".
    """

    galaxy: Galaxy
    frame: SdssFrame
    objid: int
    votes: ZooVotes
    ra: float
    dec: float
    mags: Mapping[str, float]
    petro_rad: float
    defect: str = ""


@dataclass(frozen=True)
class DesEntry:
    """What the DES catalog says about one galaxy.

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    tile : DesTile
        The tile named in the catalog (a wrong one for a defect).
    coadd_id : int
        COADD_OBJECT_ID.
    ra, dec : float
        Measured position in degrees.
    values : Mapping
        The other catalog columns, already in catalog units.
    defect : str
        "", "missing_band" or "off_frame".
    """

    galaxy: Galaxy
    tile: DesTile
    coadd_id: int
    ra: float
    dec: float
    values: Mapping[str, float]
    defect: str = ""


def _offset(galaxy: Galaxy, error: float, rng: np.random.Generator) -> tuple[float, float]:
    """Return a position measured with a Gaussian error of ``error`` arcsec per coordinate."""
    d_ra, d_dec = rng.normal(0.0, error, 2) / 3600.0
    return galaxy.ra + d_ra / math.cos(math.radians(galaxy.dec)), galaxy.dec + d_dec


def measure_sdss(
    galaxy: Galaxy,
    frame: SdssFrame,
    *,
    objid: int,
    votes: ZooVotes,
    defect: str,
    rng: np.random.Generator,
) -> SdssEntry:
    """Return the SDSS photometric-catalog entry of a galaxy.

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    frame : SdssFrame
        The field named in the catalog.
    objid : int
        Its objid.
    votes : ZooVotes
        Its Galaxy Zoo votes.
    defect : str
        Defect recorded for it.
    rng : numpy.random.Generator
        Random numbers for the measurement errors.

    Returns
    -------
    SdssEntry
        Position within 0.02 arcsec, magnitudes within a few hundredths, Petrosian radius.
    """
    ra, dec = _offset(galaxy, _SDSS_ASTROMETRY_ERROR, rng)
    mags = {b: m + rng.normal(0.0, _SDSS_MAG_ERROR[b]) for b, m in galaxy.mags["sdss"].items()}
    seeing = SDSS.psf_fwhm["r"] / 2.0
    petro = _PETROSIAN_PER_HALF_LIGHT[galaxy.morphology] * math.hypot(
        galaxy.shape.half_light, seeing
    )
    petro *= 1.0 + rng.normal(0.0, 0.05)
    return SdssEntry(galaxy, frame, objid, votes, ra, dec, mags, petro, defect)


def measure_des(
    galaxy: Galaxy, tile: DesTile, *, coadd_id: int, defect: str, rng: np.random.Generator
) -> DesEntry:
    """Return the DES DR1 main-catalog entry of a galaxy.

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    tile : DesTile
        The tile named in the catalog.
    coadd_id : int
        Its COADD_OBJECT_ID.
    defect : str
        Defect recorded for it.
    rng : numpy.random.Generator
        Random numbers for the measurement errors.

    Returns
    -------
    DesEntry
        Position within 0.01 arcsec, XWIN/YWIN on ``tile`` (1-based), MAG_AUTO, FLUX_RADIUS
        (pixels), KRON_RADIUS, SPREAD_MODEL and FLAGS; a few Y magnitudes are missing (99).
    """
    ra, dec = _offset(galaxy, _DES_ASTROMETRY_ERROR, rng)
    x, y = tile.pixels(np.array([ra]), np.array([dec]))
    radius = galaxy.shape.half_light * math.sqrt(galaxy.shape.axis_ratio)
    values = {"XWIN_IMAGE": float(x[0]) + 1.0, "YWIN_IMAGE": float(y[0]) + 1.0}
    values["KRON_RADIUS"] = 3.5 + abs(rng.normal(0.0, 0.6))
    for band in DES_BANDS:
        key = band if band == "Y" else band.lower()
        seeing = DES.psf_fwhm.get(key, DES.psf_fwhm["i"]) / 2.0
        flux_radius = math.hypot(radius, seeing) / DES.pixel_scale * (1 + rng.normal(0, 0.03))
        values[f"MAG_AUTO_{band}"] = galaxy.mags["des"][key] + rng.normal(0.0, _DES_MAG_ERROR)
        values[f"FLUX_RADIUS_{band}"] = flux_radius
    if rng.random() < _DES_MISSING_Y:
        values["MAG_AUTO_Y"], values["FLUX_RADIUS_Y"] = MISSING, -MISSING
    spread = 0.005 + 0.004 * galaxy.shape.half_light + rng.normal(0.0, 0.002)
    values["SPREAD_MODEL_I"] = spread
    wavg = spread + rng.normal(0.0, 0.002)
    values["WAVG_SPREAD_MODEL_I"] = -MISSING if rng.random() < _DES_MISSING_WAVG else wavg
    for band in ("G", "R", "I"):
        values[f"FLAGS_{band}"] = int(rng.choice(_DES_FLAGS[0], p=_DES_FLAGS[1]))
    return DesEntry(galaxy, tile, coadd_id, ra, dec, values, defect)


def photoobj_row(entry: SdssEntry) -> list[str]:
    """Return the ``sdss_photoobj.csv`` row of an entry (columns `PHOTOOBJ_COLUMNS`).

    Parameters
    ----------
    entry : SdssEntry
        The catalog entry.

    Returns
    -------
    list of str
        Formatted values.
    """
    frame = entry.frame
    mags = [f"{entry.mags[b]:.4f}" for b in "ugriz"]
    return [
        str(entry.objid),
        f"{entry.ra:.7f}",
        f"{entry.dec:.7f}",
        *mags,
        str(frame.run),
        str(RERUN),
        str(frame.camcol),
        str(frame.field),
        f"{entry.petro_rad:.3f}",
    ]


def gz_row(entry: SdssEntry) -> list[str]:
    """Return the Galaxy Zoo 1 table 2 row of an entry (columns `GZ_COLUMNS`).

    Parameters
    ----------
    entry : SdssEntry
        The catalog entry.

    Returns
    -------
    list of str
        Formatted values, with sexagesimal RA and Dec.
    """
    votes = entry.votes
    spiral = votes.p_cs_debiased >= FLAG_THRESHOLD
    elliptical = votes.p_el_debiased >= FLAG_THRESHOLD
    fractions = [f"{votes.fraction(name):.3f}" for name in (*VOTE_CLASSES, "CS")]
    return [
        str(entry.objid),
        format_ra(entry.ra),
        format_dec(entry.dec),
        str(votes.nvote),
        *fractions,
        f"{votes.p_el_debiased:.3f}",
        f"{votes.p_cs_debiased:.3f}",
        str(int(spiral)),
        str(int(elliptical)),
        str(int(not (spiral or elliptical))),
    ]


def des_row(entry: DesEntry) -> list[str]:
    """Return the ``des_dr1_main.csv`` row of an entry (columns `DES_COLUMNS`).

    Parameters
    ----------
    entry : DesEntry
        The catalog entry.

    Returns
    -------
    list of str
        Formatted values.
    """
    position = [f"{entry.ra:.7f}", f"{entry.dec:.7f}"]
    head = [str(entry.coadd_id), entry.tile.name, *position, *position]
    values = entry.values
    return head + [_format_des(column, values[column]) for column in DES_COLUMNS[len(head) :]]


def _format_des(column: str, value: float) -> str:
    """Format one DES catalog value."""
    if column.startswith("FLAGS"):
        return str(int(value))
    if column.startswith(("SPREAD", "WAVG")):
        return f"{value:.6f}"
    return f"{value:.4f}"


def truth_row(galaxy: Galaxy, sdss: SdssEntry | None, des: DesEntry | None) -> list[str]:
    """Return the ``truth.csv`` row of a galaxy (columns `TRUTH_COLUMNS`).

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    sdss : SdssEntry or None
        Its SDSS entry, if it is in SDSS.
    des : DesEntry or None
        Its DES entry, if it is in DES.

    Returns
    -------
    list of str
        True morphology, position and structure, catalog ids as written, the defect, the
        Galaxy Zoo outcome (empty where not in SDSS), and the kind (elliptical, S0, spiral),
        arm contrast and bar fraction.
    """
    shape = galaxy.shape
    sdss_mags = galaxy.mags["sdss"]
    defect, survey = next(
        ((e.defect, name) for name, e in (("sdss", sdss), ("des", des)) if e and e.defect),
        ("", ""),
    )
    return [
        str(galaxy.index),
        galaxy.morphology,
        str(sdss.objid) if sdss else "",
        str(des.coadd_id) if des else "",
        f"{galaxy.ra:.7f}",
        f"{galaxy.dec:.7f}",
        f"{sdss_mags['r']:.4f}",
        f"{shape.half_light:.3f}",
        str(int(sdss is not None)),
        str(int(des is not None)),
        defect,
        survey,
        f"{sdss_mags['g'] - sdss_mags['r']:.4f}",
        f"{sdss_mags['r'] - sdss_mags['i']:.4f}",
        f"{shape.axis_ratio:.3f}",
        f"{shape.position_angle:.2f}",
        f"{shape.sersic_n:.2f}",
        f"{shape.bulge_fraction:.3f}",
        str(shape.n_arms),
        str(shape.winding if shape.morphology == "spiral" else 0),
        *_truth_sdss(sdss),
        des.tile.name if des else "",
        shape.kind,
        f"{shape.arm_amplitude:.3f}",
        f"{shape.bar_fraction:.3f}",
    ]


def _truth_sdss(entry: SdssEntry | None) -> list[str]:
    """Return the frame and Galaxy Zoo columns of a truth row."""
    if entry is None:
        return [""] * 7
    votes = entry.votes
    return [
        str(entry.frame.run),
        str(entry.frame.camcol),
        str(entry.frame.field),
        f"{votes.p_el_debiased:.3f}",
        f"{votes.p_cs_debiased:.3f}",
        votes.label,
        str(int(votes.confident)),
    ]

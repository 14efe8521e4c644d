"""Galaxy Zoo 1 table 2 (Lintott et al. 2011): vote fractions per SDSS galaxy."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from galcore.errors import CurationError
from galcore.surveys._tables import read_table

__all__ = ["EL_THRESHOLD", "GZ_COLUMNS", "SPIRAL_THRESHOLD", "parse_sexagesimal", "read_galaxy_zoo"]

logger = logging.getLogger(__name__)

SPIRAL_THRESHOLD = 0.985
"""Debiased spiral fraction (P_CS_DEBIASED) at or above which a label counts as confident."""
EL_THRESHOLD = 0.926
"""Debiased elliptical fraction (P_EL_DEBIASED) at or above which a label counts as confident."""

GZ_COLUMNS = ("OBJID", "RA", "DEC", "NVOTE", "P_EL_DEBIASED", "P_CS_DEBIASED")


def parse_sexagesimal(values: pd.Series | np.ndarray, *, hours: bool) -> np.ndarray:
    """Convert ``[+-]DD:MM:SS.s`` strings to decimal degrees, the sign taken from the string.

    Parameters
    ----------
    values
        Sexagesimal strings, e.g. ``"00:00:00.41"`` or ``"-00:05:33.3"``.
    hours
        True for right ascension (hours, minutes, seconds of time).

    Returns
    -------
    numpy.ndarray
        float64 degrees.

    Raises
    ------
    ValueError
        If a string does not have three colon-separated numeric fields.

    Examples
    --------
    >>> parse_sexagesimal(np.array(["-00:05:33.3"]), hours=False)
    array([-0.0925])
    """
    text = pd.Series(np.asarray(values, dtype=str)).str.strip()
    parts = text.str.split(":", expand=True)
    if parts.shape[1] != 3:
        msg = f"sexagesimal values must look like 'DD:MM:SS.s', got {text.iloc[0]!r}"
        raise ValueError(msg)
    fields = parts.astype(float).to_numpy()
    sign = np.where(text.str.startswith("-").to_numpy(), -1.0, 1.0)
    degrees = np.abs(fields[:, 0]) + fields[:, 1] / 60 + fields[:, 2] / 3600
    return sign * degrees * (15.0 if hours else 1.0)


def read_galaxy_zoo(path: Path) -> pd.DataFrame:
    """Read Galaxy Zoo 1 table 2, without its repeated rows (the table has some).

    Parameters
    ----------
    path
        ``GalaxyZoo1_DR_table2.csv``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``objid`` with columns ``ra``, ``dec`` (degrees), ``nvote``, ``p_el``,
        ``p_cs`` (debiased fractions), ``label`` (0 elliptical, 1 spiral: the larger debiased
        fraction) and ``confident`` (above the Galaxy Zoo thresholds).

    Raises
    ------
    CurationError
        If the file is not a CSV table, lacks a column, holds no rows, a value that is not a
        number or an OBJID twice with different values (`read_table`), or a coordinate cannot
        be parsed.
    """
    table = read_table(
        path,
        GZ_COLUMNS,
        kind="Galaxy Zoo table",
        fix="is this Galaxy Zoo 1 table 2?",
        numeric=("OBJID", "NVOTE", "P_EL_DEBIASED", "P_CS_DEBIASED"),
        key="OBJID",
        comment=None,
    )
    try:
        ra = parse_sexagesimal(table["RA"], hours=True)
        dec = parse_sexagesimal(table["DEC"], hours=False)
    except ValueError as error:
        msg = f"{path}: cannot parse RA/DEC as sexagesimal: {error}"
        raise CurationError(msg) from error
    p_el = table["P_EL_DEBIASED"].to_numpy(dtype=np.float32)
    p_cs = table["P_CS_DEBIASED"].to_numpy(dtype=np.float32)
    confident = (p_cs >= SPIRAL_THRESHOLD) | (p_el >= EL_THRESHOLD)
    frame = pd.DataFrame(
        {
            "ra": ra,
            "dec": dec,
            "nvote": table["NVOTE"].to_numpy(dtype=np.int16),
            "p_el": p_el,
            "p_cs": p_cs,
            "label": (p_cs > p_el).astype(np.int8),
            "confident": confident,
        },
        index=pd.Index(table["OBJID"].to_numpy(dtype=np.int64), name="objid"),
    )
    logger.info("%s: %d confident labels of %d", path.name, int(confident.sum()), len(frame))
    return frame

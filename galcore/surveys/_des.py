"""DES DR1: the main catalog and the coadd tiles (SCI, MSK, WGT)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from galcore.errors import UnreadableFileError
from galcore.surveys._fits import as_float_image, celestial_wcs, read_hdus
from galcore.surveys._images import SurveyImage
from galcore.surveys._tables import read_table

__all__ = ["DES_COLUMNS", "DES_PIXEL_SCALE_ARCSEC", "find_tiles", "read_des_catalog", "read_tile"]

logger = logging.getLogger(__name__)

DES_COLUMNS = (
    "COADD_OBJECT_ID",
    "TILENAME",
    "RA",
    "DEC",
    "MAG_AUTO_G",
    "MAG_AUTO_R",
    "MAG_AUTO_I",
    "FLUX_RADIUS_R",
)
DES_PIXEL_SCALE_ARCSEC = 0.263
NANOMAGGY_ZEROPOINT = 22.5
_TILE_NAME = re.compile(r"^(DES\d{4}[+-]\d{4})_r(\d+)p(\d+)_([grizY])\.fits\.fz$")


def read_des_catalog(path: Path) -> pd.DataFrame:
    """Read a DES DR1 main-catalog CSV indexed by COADD_OBJECT_ID; 99/-99 become NaN.

    Raises
    ------
    CurationError
        If the file is not a CSV table, lacks a column, holds no rows, a coordinate that is
        not a number or a COADD_OBJECT_ID twice with different values (`read_table`).
    """
    table = read_table(
        path,
        DES_COLUMNS,
        kind="DES catalog",
        fix=f"query {', '.join(DES_COLUMNS)}",
        numeric=("COADD_OBJECT_ID", "RA", "DEC"),
        key="COADD_OBJECT_ID",
    )
    table = table.set_index("COADD_OBJECT_ID")
    numeric = table.select_dtypes("number").columns
    table[numeric] = table[numeric].mask(table[numeric].abs() == 99)
    logger.info("%s: %d objects", path.name, len(table))
    return table


def find_tiles(root: Path) -> dict[tuple[str, str], Path]:
    """Find coadd tile files under `root`: (tile, band) -> path, newest request number first."""
    found: dict[tuple[str, str], tuple[int, Path]] = {}
    for path in sorted(root.rglob("DES*_r*p*_*.fits.fz")):
        match = _TILE_NAME.match(path.name)
        if match:
            tile, reqnum, _, band = match.groups()
            if (tile, band) not in found or int(reqnum) > found[tile, band][0]:
                found[tile, band] = (int(reqnum), path)
    logger.info("%s: %d DES tile files", root, len(found))
    return {key: path for key, (_, path) in found.items()}


def read_tile(path: Path) -> SurveyImage:
    """Read a coadd tile's SCI image in nanomaggies per arcsec^2, NaN where MSK flags a pixel."""
    hdus = read_hdus(path, ("SCI", "MSK"))
    if hdus["SCI"] is None:
        msg = f"{path}: no SCI image HDU; is this a DES coadd tile?"
        raise UnreadableFileError(msg)
    header = hdus["SCI"].header
    data = as_float_image(hdus["SCI"].data, path)
    mask = hdus["MSK"].data if hdus["MSK"] is not None else None
    zeropoint = header.get("MAGZERO")
    if zeropoint is None:
        msg = f"{path}: SCI header has no MAGZERO; cannot put counts on the nanomaggy scale"
        raise UnreadableFileError(msg)
    wcs = celestial_wcs(header, path)
    scale = 10 ** (-0.4 * (float(zeropoint) - NANOMAGGY_ZEROPOINT))
    image = SurveyImage(data, wcs, path)
    data = data * np.float32(scale / image.pixel_scale_arcsec**2)
    if mask is not None:
        data[np.asarray(mask) != 0] = np.nan
    return SurveyImage(data, wcs, path)

"""SDSS: PhotoObj tables, objid bits and DR8+ frame files."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from galcore.errors import CurationError, UnitsError
from galcore.surveys._fits import HDU, as_float_image, celestial_wcs, read_hdus
from galcore.surveys._images import SurveyImage
from galcore.surveys._tables import read_table

__all__ = ["PHOTOOBJ_COLUMNS", "decode_objid", "find_frames", "read_frame", "read_photoobj"]

logger = logging.getLogger(__name__)

PHOTOOBJ_COLUMNS = (
    "objid",
    "ra",
    "dec",
    "u",
    "g",
    "r",
    "i",
    "z",
    "run",
    "rerun",
    "camcol",
    "field",
    "petroRad_r",
)
_FRAME_NAME = re.compile(r"^frame-([ugriz])-(\d{6})-(\d)-(\d{4})\.fits(\.bz2)?$")

FrameKey = tuple[str, int, int, int]
"""(band, run, camcol, field)."""


def decode_objid(objid: np.ndarray) -> dict[str, np.ndarray]:
    """Decode SDSS objids into run, rerun, camcol and field.

    Examples
    --------
    >>> decode_objid(np.array([1237648720693755918]))["run"]
    array([756])
    """
    objid = np.asarray(objid, dtype=np.int64)
    return {
        "run": (objid >> 32) & 0xFFFF,
        "rerun": (objid >> 48) & 0x7FF,
        "camcol": (objid >> 29) & 0x7,
        "field": (objid >> 16) & 0xFFF,
    }


def read_photoobj(path: Path) -> pd.DataFrame:
    """Read a SkyServer PhotoObj CSV, indexed by objid.

    Raises
    ------
    CurationError
        If the file is not a CSV table, lacks a column, holds no rows or a value that is not a
        number (`read_table`), or the run/camcol/field columns disagree with the objid bits.
    """
    table = read_table(
        path,
        PHOTOOBJ_COLUMNS,
        kind="PhotoObj table",
        fix=f"query {', '.join(PHOTOOBJ_COLUMNS)}",
        numeric=("objid", "ra", "dec", "run", "camcol", "field"),
    )
    table = table.drop_duplicates("objid").set_index("objid")
    bits = decode_objid(table.index.to_numpy())
    for name in ("run", "camcol", "field"):
        bad = table[name].to_numpy() != bits[name]
        if bad.any():
            objid = table.index[np.argmax(bad)]
            msg = f"{path}: object {objid}: {name} column disagrees with the objid bits"
            raise CurationError(msg)
    logger.info("%s: %d objects", path.name, len(table))
    return table


def find_frames(root: Path) -> dict[FrameKey, Path]:
    """Find DR8+ frame files anywhere under `root` by their names."""
    frames = {}
    for path in sorted(root.rglob("frame-*.fits*")):
        match = _FRAME_NAME.match(path.name)
        if match:
            band, run, camcol, field, _ = match.groups()
            frames[band, int(run), int(camcol), int(field)] = path
    logger.info("%s: %d SDSS frame files", root, len(frames))
    return frames


def read_frame(path: Path) -> SurveyImage:
    """Read a DR8+ frame: HDU0 nanomaggies per pixel with its (rotated) TAN WCS.

    Raises
    ------
    UnitsError
        If the pixels are integers (counts, not nanomaggies) or ``BUNIT`` does not say
        nanomaggies: nothing is rescaled on a guess.
    UnreadableFileError
        If the file holds no 2-D image or no celestial WCS.
    """
    (primary,) = read_hdus(path, (0,)).values()
    data = as_float_image(primary.data, path)
    wcs = celestial_wcs(primary.header, path)
    _check_nanomaggies(primary, path)
    image = SurveyImage(data, wcs, path)
    return SurveyImage(data / np.float32(image.pixel_scale_arcsec**2), wcs, path)


def _check_nanomaggies(hdu: HDU, path: Path) -> None:
    """Raise UnitsError unless a frame's pixels are floats in nanomaggies (BUNIT)."""
    data = hdu.data
    if data is not None and not np.issubdtype(data.dtype, np.floating):
        msg = (
            f"{path}: integer pixels ({data.dtype}) where a DR8 frame holds float nanomaggies;"
            " raw counts (a DR7 fpC frame, say) need their photometric calibration: give the"
            " DR8 frame-*.fits.bz2 of this field"
        )
        raise UnitsError(msg)
    unit = str(hdu.header.get("BUNIT", "")).strip()
    if unit.lower() not in ("nanomaggy", "nanomaggies"):
        msg = (
            f"{path}: BUNIT is {unit or 'missing'!r}, not 'nanomaggy', so its pixels cannot be"
            " put on the flux scale; give the DR8 frame-*.fits.bz2 as SDSS distributes it"
        )
        raise UnitsError(msg)

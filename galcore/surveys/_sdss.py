"""SDSS: PhotoObj tables, objid bits, DR8+ frame files and (through `_sdss_dr7`) DR7 fpC frames."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from galcore.errors import CurationError, UnitsError
from galcore.surveys._fits import HDU, as_float_image, celestial_wcs, read_hdus
from galcore.surveys._images import SurveyImage
from galcore.surveys._sdss_dr7 import find_fpc_frames, fpc_key, read_fpc
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
        If the file is not a CSV table, lacks a column, holds no rows, a value that is not a
        number or an objid twice with different values (`read_table`), or the run/camcol/field
        columns disagree with the objid bits.
    """
    table = read_table(
        path,
        PHOTOOBJ_COLUMNS,
        kind="PhotoObj table",
        fix=f"query {', '.join(PHOTOOBJ_COLUMNS)}",
        numeric=("objid", "ra", "dec", "run", "camcol", "field"),
        key="objid",
    )
    table = table.set_index("objid")
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
    """Find SDSS frames anywhere under `root` by their names, keyed (band, run, camcol, field).

    DR8+ ``frame-{band}-{run6}-{camcol}-{field4}.fits[.bz2]`` and DR7
    ``fpC-{run6}-{band}{camcol}-{field4}.fit[.gz]`` files are both found; where a field's band
    is there in both, the DR8 frame (already calibrated) is used.
    """
    dr8 = {}
    for path in sorted(root.rglob("frame-*.fits*")):
        match = _FRAME_NAME.match(path.name)
        if match:
            band, run, camcol, field, _ = match.groups()
            dr8[band, int(run), int(camcol), int(field)] = path
    dr7 = find_fpc_frames(root)
    frames = {**dr7, **dr8}
    logger.info(
        "%s: %d SDSS frame files (%d DR8, %d DR7 fpC; %d fpC left for their DR8 frame)",
        root,
        len(frames),
        len(dr8),
        len(frames) - len(dr8),
        len(dr7.keys() & dr8.keys()),
    )
    return frames


def read_frame(path: Path, *, tsfield: Path | None = None) -> SurveyImage:
    """Read an SDSS frame as surface brightness in nanomaggies per square arcsecond.

    A DR8+ frame is HDU0 nanomaggies per pixel with its (rotated) TAN WCS. A DR7 fpC frame
    (known by its name) is counts, calibrated with its field's `tsfield` file (`read_fpc`).

    Raises
    ------
    UnitsError
        If the pixels are integers (counts, not nanomaggies) or ``BUNIT`` does not say
        nanomaggies: nothing is rescaled on a guess. For an fpC frame, if `tsfield` is None
        or lacks the photometric solution.
    UnreadableFileError
        If the file holds no 2-D image or no celestial WCS.
    """
    if fpc_key(path) is not None:
        return read_fpc(path, tsfield)
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
            " DR8 frame-*.fits.bz2 of this field, or the fpC under its own name with its tsField"
        )
        raise UnitsError(msg)
    unit = str(hdu.header.get("BUNIT", "")).strip()
    if unit.lower() not in ("nanomaggy", "nanomaggies"):
        msg = (
            f"{path}: BUNIT is {unit or 'missing'!r}, not 'nanomaggy', so its pixels cannot be"
            " put on the flux scale; give the DR8 frame-*.fits.bz2 as SDSS distributes it"
        )
        raise UnitsError(msg)

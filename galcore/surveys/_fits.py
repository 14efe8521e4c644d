"""Shared FITS helpers: open a (compressed) file and turn failures into curation errors."""

from __future__ import annotations

import bz2
import io
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from galcore.errors import UnreadableFileError

__all__ = ["HDU", "as_float_image", "celestial_wcs", "read_hdus"]


class HDU(NamedTuple):
    """The header and data of one HDU."""

    header: fits.Header
    data: np.ndarray | None


def read_hdus(path: Path, keys: tuple[int | str, ...]) -> dict[int | str, HDU | None]:
    """Read the header and data of the HDUs `keys` (an index or a name; None if absent).

    ``.bz2`` files are decompressed in memory; the other HDUs are never decompressed.
    """
    try:
        bz2_file = path.suffix == ".bz2"
        source = io.BytesIO(bz2.decompress(path.read_bytes())) if bz2_file else path
        with fits.open(source, memmap=False) as hdus:
            names = [hdu.name for hdu in hdus]
            found = {}
            for key in keys:
                present = key in names if isinstance(key, str) else key < len(hdus)
                found[key] = HDU(hdus[key].header.copy(), hdus[key].data) if present else None
    except (OSError, ValueError, EOFError, TypeError) as error:
        msg = f"{path}: unreadable FITS file ({error}); download it again"
        raise UnreadableFileError(msg) from error
    return found


def celestial_wcs(header: fits.Header, path: Path) -> WCS:
    """Return the celestial WCS of an image header, or raise if it has none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header).celestial
    if not wcs.has_celestial:
        msg = f"{path}: image header has no celestial WCS"
        raise UnreadableFileError(msg)
    return wcs


def as_float_image(data: np.ndarray | None, path: Path) -> np.ndarray:
    """Return a 2-D float32 image or raise if the HDU holds none."""
    if data is None or np.ndim(data) != 2:
        msg = f"{path}: expected a 2-D image, found {None if data is None else np.shape(data)}"
        raise UnreadableFileError(msg)
    return np.asarray(data, dtype=np.float32)

"""Shared FITS helpers: open a (compressed) file and turn failures into curation errors."""

from __future__ import annotations

import bz2
import io
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from galcore.errors import UnreadableFileError

__all__ = ["as_float_image", "celestial_wcs", "open_fits"]


def open_fits(path: Path) -> fits.HDUList:
    """Open a FITS file (``.bz2`` decompressed in memory) with all data loaded."""
    try:
        if path.suffix == ".bz2":
            raw = io.BytesIO(bz2.decompress(path.read_bytes()))
            hdus = fits.open(raw, memmap=False)
        else:
            hdus = fits.open(path, memmap=False)
        for hdu in hdus:
            _ = hdu.data
    except (OSError, ValueError, EOFError, TypeError) as error:
        msg = f"{path}: unreadable FITS file ({error}); download it again"
        raise UnreadableFileError(msg) from error
    return hdus


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

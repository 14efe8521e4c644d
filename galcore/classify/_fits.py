"""A user's FITS cutout: its image HDU, its bands, its celestial WCS and its flux scale."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS

from galcore.classify._errors import NoDataError, WrongShapeError
from galcore.errors import UnreadableFileError
from galcore.surveys import NANOMAGGY_ZEROPOINT, SurveyImage
from galcore.surveys._fits import celestial_wcs, read_hdus

__all__ = ["FitsCutout", "read_fits_cutout"]

SURFACE_BRIGHTNESS = u.nmgy / u.arcsec**2
"""The catalog's flux scale before the stretch (see `galcore.surveys.SurveyImage`)."""


@dataclass(frozen=True)
class FitsCutout:
    """The image of a FITS file, on the catalog's flux scale when its units allow.

    Attributes
    ----------
    bands
        float32 (1 or 3, ny, nx): one band, or g, r, i; NaN where a pixel has no value.
    wcs
        The image's celestial WCS, or None when the header has none.
    surface_brightness
        True when `bands` are in nanomaggies per arcsec^2, False when the units are unknown
        (the values are then as in the file).
    caveats
        Why the units are unknown, when they are.
    """

    bands: np.ndarray
    wcs: WCS | None
    surface_brightness: bool
    caveats: tuple[str, ...]


def read_fits_cutout(path: Path) -> FitsCutout:
    """Read the image of a FITS file: the ``SCI`` HDU, else the primary HDU, else HDU 1.

    Parameters
    ----------
    path
        A FITS file, possibly gzip, bzip2 or fpack compressed.

    Returns
    -------
    FitsCutout
        The bands, the WCS and, when the header says so, values in nanomaggies per arcsec^2:
        ``BUNIT`` in nanomaggies (per pixel, divided by the pixel area from the WCS) or in
        nanomaggies per arcsec^2, else a DES ``MAGZERO`` (counts, per pixel).

    Raises
    ------
    UnreadableFileError
        If the file or its WCS cannot be read.
    WrongShapeError
        If it holds no 2-D image, or a cube of other than 1 or 3 bands.
    NoDataError
        If a band has no finite pixel.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstropyUserWarning)  # "File may have been truncated"
        try:
            hdus = read_hdus(path, ("SCI", 0, 1))
        except UnreadableFileError as error:
            said = "".join(f" ({warning.message})" for warning in caught)
            raise UnreadableFileError(f"{error}{said}") from error
    found = [hdu for hdu in hdus.values() if hdu is not None and _is_image(hdu.data)]
    if not found:
        msg = f"{path}: no image in the SCI, primary or first extension HDU"
        raise WrongShapeError(msg)
    header, data = found[0]
    bands = np.asarray(data, dtype=np.float32)
    bands = bands[None] if bands.ndim == 2 else bands
    if bands.ndim != 3 or len(bands) not in (1, 3) or min(bands.shape[1:]) < 2:
        msg = f"{path}: image of shape {data.shape}; expected (ny, nx) or (1 or 3 bands, ny, nx)"
        raise WrongShapeError(msg)
    empty = [k for k, band in enumerate(bands) if not np.isfinite(band).any()]
    if empty:
        msg = f"{path}: band {empty[0]} of {len(bands)} has no finite pixel (all NaN or inf)"
        raise NoDataError(msg)
    bands[~np.isfinite(bands)] = np.nan
    wcs = _celestial(header, path)
    scale, why_unknown = _to_surface_brightness(header, wcs, bands, path)
    if scale is None:
        return FitsCutout(bands, wcs, surface_brightness=False, caveats=(why_unknown,))
    return FitsCutout(bands * np.float32(scale), wcs, surface_brightness=True, caveats=())


def _is_image(data: np.ndarray | None) -> bool:
    """Whether an HDU's data is an image (an array of numbers of 2 or more dimensions)."""
    return data is not None and data.dtype.fields is None and data.ndim >= 2


def _celestial(header: fits.Header, path: Path) -> WCS | None:
    """Return the header's celestial WCS, None when it has none; raise when it is malformed."""
    try:
        return celestial_wcs(header, path)
    except UnreadableFileError:
        return None
    except (ValueError, KeyError, MemoryError) as error:
        msg = f"{path}: malformed WCS in the header ({error})"
        raise UnreadableFileError(msg) from error


def _to_surface_brightness(
    header: fits.Header, wcs: WCS | None, bands: np.ndarray, path: Path
) -> tuple[float | None, str]:
    """Return the factor from pixel values to nanomaggies per arcsec^2, or None and why."""
    text = str(header.get("BUNIT", "")).strip().replace("maggies", "maggy")
    unit = u.Unit(text, parse_strict="silent") if text else None
    if unit is not None and unit.is_equivalent(SURFACE_BRIGHTNESS):
        return unit.to(SURFACE_BRIGHTNESS), ""
    if unit is not None and unit.is_equivalent(u.nmgy):
        per_pixel, given = unit.to(u.nmgy), f"BUNIT {text!r}"
    elif isinstance(header.get("MAGZERO"), int | float):
        per_pixel, given = 10 ** (-0.4 * (header["MAGZERO"] - NANOMAGGY_ZEROPOINT)), "MAGZERO"
    else:
        return None, (
            "units unknown (no BUNIT in nanomaggies, no MAGZERO): stretched by the image's own"
            " percentiles, not on the catalog's flux scale"
        )
    if wcs is None:
        return None, (
            f"{given} gives the flux per pixel but without a WCS the pixel area is unknown:"
            " stretched by the image's own percentiles, not on the catalog's flux scale"
        )
    return per_pixel / SurveyImage(bands[0], wcs, path).pixel_scale_arcsec ** 2, ""

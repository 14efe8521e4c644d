"""Turn a user's FITS, PNG or JPEG cutout into a uint8 RGB image like the catalog's."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.nddata import Cutout2D

from galcore.classify._errors import (
    MissingFileError,
    NoDataError,
    UnsupportedFormatError,
    WrongShapeError,
)
from galcore.classify._fits import FitsCutout, read_fits_cutout
from galcore.curation import ColourStretch, CurationConfig, cutout
from galcore.errors import UnreadableFileError
from galcore.surveys import SurveyImage
from store import Catalog

__all__ = ["FITS_SUFFIXES", "IMAGE_SUFFIXES", "PERCENTILE", "Preparation", "PreparedImage"]

logger = logging.getLogger(__name__)

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".fits.gz", ".fit.gz", ".fits.bz2")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
PERCENTILE = 99.5
"""Percentile of brightness that sets the stretch of a FITS image of unknown units."""
_SAMPLE = 64
_PROBE = 4096
_IMAGE_MODES = ("1", "L", "P", "RGB", "LA", "PA", "RGBA")


@dataclass(frozen=True)
class Preparation:
    """How the catalog's images were made, as far as classification must repeat it.

    Attributes
    ----------
    size
        Side of the catalog's images in pixels.
    field_arcsec
        Side of the catalog's cutouts on the sky.
    stretch
        The catalog's colour stretch.
    bright
        Median, over a sample of the catalog's images, of the `PERCENTILE` of their pixels'
        brightness (the largest of R, G and B): how bright an image of unknown units is made
        at that percentile.
    recorded
        False when the catalog does not record its curation settings and the curation
        defaults stand in for them.
    """

    size: int
    field_arcsec: float
    stretch: ColourStretch
    bright: float
    recorded: bool = True

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> Preparation:
        """Read the settings `galcore curate` recorded in the catalog, else use its defaults."""
        brightness = catalog.read_images(np.flatnonzero(catalog.ok())[:_SAMPLE]).max(axis=-1)
        levels = np.percentile(brightness, PERCENTILE, axis=(1, 2)) if len(brightness) else [0.0]
        bright = float(np.median(levels))
        settings = catalog.attrs.get("curation")
        if settings is not None:
            stretch = ColourStretch.recorded(settings["stretch"])
            return cls(catalog.image_size, float(settings["field_arcsec"]), stretch, bright)
        default = CurationConfig()
        logger.warning(
            "%s does not record its curation settings; using the curation defaults: %g arcsec"
            " cutouts, %s",
            catalog.path,
            default.field_arcsec,
            default.stretch,
        )
        return cls(
            catalog.image_size, default.field_arcsec, default.stretch, bright, recorded=False
        )

    def prepare(self, path: Path) -> PreparedImage:
        """Prepare one file as the catalog's images are prepared (see `galcore.classify`).

        Parameters
        ----------
        path
            A FITS (``.fits``, ``.fit``, ``.fts``, ``.fz``, ``.fits.gz``, ``.fits.bz2``), PNG
            or JPEG file.

        Returns
        -------
        PreparedImage
            The uint8 RGB image and caveats.

        Raises
        ------
        CurationError
            With the file's status as ``reason``: ``missing_file``, ``unsupported_format``,
            ``unreadable_file``, ``wrong_shape``, ``no_data`` or ``off_frame``.
        """
        if not path.is_file():
            msg = f"{path}: {'not a file' if path.exists() else 'no such file'}"
            raise MissingFileError(msg)
        name = path.name.lower()
        if name.endswith(IMAGE_SUFFIXES):
            prepared = _prepare_image(path)
        elif name.endswith(FITS_SUFFIXES):
            prepared = _prepare_fits(path, self)
        else:
            known = ", ".join(FITS_SUFFIXES + IMAGE_SUFFIXES)
            msg = f"{path}: not a FITS, PNG or JPEG file name ({known})"
            raise UnsupportedFormatError(msg)
        ny, nx = prepared.image.shape[:2]
        if ny != nx:
            squeezed = f"{nx}x{ny} image squeezed to the square model input"
            return dataclasses.replace(prepared, caveats=(*prepared.caveats, squeezed))
        return prepared


@dataclass(frozen=True)
class PreparedImage:
    """A file's image as the catalog stores images, and what its preparation had to assume.

    Attributes
    ----------
    image
        uint8 (ny, nx, 3) RGB.
    caveats
        How it differs from the way the catalog's images are made (empty when it does not).
    """

    image: np.ndarray
    caveats: tuple[str, ...] = ()


def _prepare_image(path: Path) -> PreparedImage:
    """Read an 8-bit PNG or JPEG, already stretched, as RGB."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
            pixels = np.asarray(image.convert("RGB")) if mode in _IMAGE_MODES else None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        msg = f"{path}: unreadable image ({error})"
        raise UnreadableFileError(msg) from error
    if pixels is None:
        msg = f"{path}: {mode} image; expected 8-bit RGB or greyscale"
        raise WrongShapeError(msg)
    caveats = []
    if mode in ("1", "L", "LA"):
        caveats.append("greyscale image; the catalog's images are g, r, i colour")
    if mode.endswith("A"):
        caveats.append("alpha channel ignored")
    return PreparedImage(pixels, tuple(caveats))


def _prepare_fits(path: Path, preparation: Preparation) -> PreparedImage:
    """Cut out (with a WCS) or take whole (without one) a FITS image, and stretch it."""
    image = read_fits_cutout(path)
    caveats = list(image.caveats)
    bands = image.bands
    if not preparation.recorded:
        caveats.append(
            "the catalog does not record its curation settings; used the curation defaults"
            f" ({preparation.field_arcsec:g} arcsec, {preparation.stretch})"
        )
    if not image.surface_brightness:  # arbitrary units: take the sky level off first
        bands = bands - np.nanmedian(bands, axis=(1, 2), keepdims=True)
    if image.wcs is None:
        planes = np.nan_to_num(bands, nan=0.0)
        caveats.append(
            f"no celestial WCS: the whole {bands.shape[2]}x{bands.shape[1]} image is resized"
            " to the model input, at an angular size that may differ from the catalog's"
            f" {preparation.field_arcsec:g} arcsec"
        )
    else:
        planes = _north_up(dataclasses.replace(image, bands=bands), path, preparation, caveats)
    if len(planes) == 1:
        planes = np.repeat(planes, 3, axis=0)
        caveats.append("one band, shown in grey; the catalog's images are g, r, i colour")
    stretch = preparation.stretch
    if not image.surface_brightness:
        stretch = _own_stretch(planes, preparation, path)
    return PreparedImage(stretch(*planes), tuple(caveats))


def _north_up(
    image: FitsCutout, path: Path, preparation: Preparation, caveats: list[str]
) -> np.ndarray:
    """Resample the bands onto the catalog's north-up grid around the image centre.

    The image is first cut (or padded with NaN) to three fields around its centre, so that the
    curation's cutout, which needs room to rotate and smooth, always lies on it. Pixels outside
    the file are 0 (the sky); a note says how much of the field they cover.
    """
    ny, nx = image.bands.shape[1:]
    centre = image.wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    scale = SurveyImage(image.bands[0], image.wcs, path).pixel_scale_arcsec
    side = 3 * math.ceil(preparation.field_arcsec / scale)
    field = preparation.field_arcsec * u.arcsec
    planes = []
    for band in [*image.bands, np.isfinite(image.bands).all(axis=0).astype(np.float32)]:
        local = Cutout2D(band, centre, side, wcs=image.wcs, mode="partial", fill_value=np.nan)
        local_image = SurveyImage(local.data, local.wcs, path)
        planes.append(
            cutout(local_image, centre, size=preparation.size, field=field, name=path.name)
        )
    covered = float(np.clip(planes.pop(), 0, 1).mean())
    if covered < 0.99:
        caveats.append(
            f"{100 * (1 - covered):.0f}% of the {preparation.field_arcsec:g} arcsec field has"
            " no pixel in the file (outside the image, or NaN): filled with 0"
        )
    return np.stack(planes)


def _own_stretch(planes: np.ndarray, preparation: Preparation, path: Path) -> ColourStretch:
    """Return the catalog's stretch, its range set by the image's own percentiles.

    The range is the largest that makes the image's `PERCENTILE` of brightness what it is in the
    catalog's images (found by bisection on at most `_PROBE` of its pixels).
    """
    intensity = planes.mean(axis=0)
    level = float(np.percentile(intensity, PERCENTILE))
    if not level > 0:
        msg = f"{path}: nothing above the image's median (a flat image); nothing to classify"
        raise NoDataError(msg)
    probe = planes.reshape(len(planes), 1, -1)[:, :, :: max(1, intensity.size // _PROBE)]
    low, high = level * 1e-6, level * 1e6  # a larger range makes the image darker
    for _ in range(40):
        middle = math.sqrt(low * high)
        image = dataclasses.replace(preparation.stretch, stretch=middle)(*probe)
        bright = np.percentile(image.max(axis=-1), PERCENTILE) >= preparation.bright
        low, high = (middle, high) if bright else (low, middle)
    return dataclasses.replace(preparation.stretch, stretch=low)

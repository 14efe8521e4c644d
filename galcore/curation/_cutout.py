"""Cut a galaxy out of a survey image onto a common north-up grid."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from scipy.ndimage import gaussian_filter, map_coordinates

from galcore.errors import OffFrameError
from galcore.surveys import SurveyImage

__all__ = ["coverage", "cutout", "north_up_wcs"]


def north_up_wcs(position: SkyCoord, *, size: int, field: u.Quantity) -> WCS:
    """Return a north-up, east-left TAN WCS of `size` x `size` pixels spanning `field`."""
    scale = field.to_value(u.deg) / size
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [position.icrs.ra.deg, position.icrs.dec.deg]
    wcs.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    wcs.wcs.cdelt = [-scale, scale]
    return wcs


def cutout(
    image: SurveyImage,
    position: SkyCoord,
    *,
    size: int,
    field: u.Quantity,
    name: str,
    partial: bool = False,
) -> np.ndarray:
    """Resample one band around `position` onto a north-up grid; north is up in the array.

    The source is smoothed before resampling when its pixels are smaller than the output's, so
    both surveys end at the same angular resolution per pixel and fluxes stay surface
    brightnesses. A cutout is on the image when every output pixel's centre falls on one of
    the image's pixels, wherever that is (no margin is asked for: galaxies near an edge are
    kept; the smoothing reflects the image at its edge).

    Parameters
    ----------
    image
        The band, in nanomaggies per arcsec^2, with its WCS.
    position
        The galaxy's position.
    size
        Output side in pixels.
    field
        Output side as an angle.
    name
        The galaxy's name, for messages.
    partial
        Cut what lies on the image and give the pixels off it 0 (no flux: black after the
        colour stretch) instead of refusing a cutout that is not wholly on the image;
        `coverage` tells which pixels those are.

    Returns
    -------
    numpy.ndarray
        float32 (size, size) surface brightness; row 0 is the northern edge.

    Raises
    ------
    OffFrameError
        If the cutout does not lie wholly on the image (with `partial`, if none of it does);
        the message gives its extent there.
    """
    x, y = _pixels(image.wcs, position, size=size, field=field)
    on = _on_image(x, y, image.data.shape)
    if not (on.any() if partial else on.all()):
        msg = (
            f"galaxy {name} in {image.path.name}: {field:.0f} cutout does not lie on the"
            f" image {image.data.shape} (it spans x {np.nanmin(x):.0f} to {np.nanmax(x):.0f},"
            f" y {np.nanmin(y):.0f} to {np.nanmax(y):.0f} in its pixels)"
        )
        raise OffFrameError(msg)
    ratio = field.to_value(u.arcsec) / size / image.pixel_scale_arcsec
    sigma = 0.5 * np.sqrt(max(ratio**2 - 1.0, 0.0))
    # Only the pixels the cutout samples, plus the smoothing kernel's reach where there are any.
    height, width = image.data.shape
    reach = int(np.ceil(4 * sigma)) + 2
    x0, x1 = max(int(x[on].min()) - reach, 0), min(int(np.ceil(x[on].max())) + reach + 1, width)
    y0, y1 = max(int(y[on].min()) - reach, 0), min(int(np.ceil(y[on].max())) + reach + 1, height)
    data = np.nan_to_num(np.asarray(image.data[y0:y1, x0:x1], dtype=np.float64), nan=0.0)
    if sigma > 0:
        data = gaussian_filter(data, sigma)
    inside = np.where(on, [y - y0, x - x0], 0.0)
    resampled = np.where(on, map_coordinates(data, inside, order=1, mode="nearest"), 0.0)
    return resampled[::-1].astype(np.float32)


def coverage(
    wcs: WCS, shape: tuple[int, int], position: SkyCoord, *, size: int, field: u.Quantity
) -> np.ndarray:
    """Return which pixels of a cutout lie on an image, from the image's WCS and shape alone.

    Parameters
    ----------
    wcs
        The image's celestial WCS (from its header: no pixel data is needed).
    shape
        The image's (ny, nx).
    position, size, field
        The cutout, as for `cutout`.

    Returns
    -------
    numpy.ndarray
        bool (size, size), north up like `cutout`: True where the pixel's centre falls on one of
        the image's pixels.
    """
    return _on_image(*_pixels(wcs, position, size=size, field=field), shape)[::-1]


def _pixels(
    wcs: WCS, position: SkyCoord, *, size: int, field: u.Quantity
) -> tuple[np.ndarray, np.ndarray]:
    """Return the image pixel coordinates (x, y) of every cutout pixel centre, south row first."""
    if field.unit.physical_type != "angle":
        msg = f"field must be an angle, got {field!r}"
        raise u.UnitTypeError(msg)
    target = north_up_wcs(position, size=size, field=field)
    columns, rows = np.meshgrid(np.arange(size), np.arange(size))
    return wcs.world_to_pixel_values(*target.pixel_to_world_values(columns, rows))


def _on_image(x: np.ndarray, y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Whether each pixel coordinate falls on an image of `shape` (centres 0..n-1)."""
    height, width = shape
    return (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)

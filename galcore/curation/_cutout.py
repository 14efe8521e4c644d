"""Cut a galaxy out of a survey image onto a common north-up grid."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from scipy.ndimage import gaussian_filter, map_coordinates

from galcore.errors import OffFrameError
from galcore.surveys import SurveyImage

__all__ = ["cutout", "north_up_wcs"]


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

    Returns
    -------
    numpy.ndarray
        float32 (size, size) surface brightness; row 0 is the northern edge.

    Raises
    ------
    OffFrameError
        If the cutout does not lie wholly on the image; the message gives its extent there.
    """
    if field.unit.physical_type != "angle":
        msg = f"field must be an angle, got {field!r}"
        raise u.UnitTypeError(msg)
    ratio = field.to_value(u.arcsec) / size / image.pixel_scale_arcsec
    sigma = 0.5 * np.sqrt(max(ratio**2 - 1.0, 0.0))
    target = north_up_wcs(position, size=size, field=field)
    columns, rows = np.meshgrid(np.arange(size), np.arange(size))
    x, y = image.wcs.world_to_pixel_values(*target.pixel_to_world_values(columns, rows))
    height, width = image.data.shape
    if not _inside(x, width) or not _inside(y, height):
        msg = (
            f"galaxy {name} in {image.path.name}: {field:.0f} cutout does not lie on the"
            f" image {image.data.shape} (it spans x {np.nanmin(x):.0f} to {np.nanmax(x):.0f},"
            f" y {np.nanmin(y):.0f} to {np.nanmax(y):.0f} in its pixels)"
        )
        raise OffFrameError(msg)
    # Only the pixels the cutout samples, plus the smoothing kernel's reach where there are any.
    reach = int(np.ceil(4 * sigma)) + 2
    x0, x1 = max(int(x.min()) - reach, 0), min(int(np.ceil(x.max())) + reach + 1, width)
    y0, y1 = max(int(y.min()) - reach, 0), min(int(np.ceil(y.max())) + reach + 1, height)
    data = np.nan_to_num(np.asarray(image.data[y0:y1, x0:x1], dtype=np.float64), nan=0.0)
    if sigma > 0:
        data = gaussian_filter(data, sigma)
    resampled = map_coordinates(data, [y - y0, x - x0], order=1, mode="nearest")
    return resampled[::-1].astype(np.float32)


def _inside(coordinate: np.ndarray, length: int) -> bool:
    """Whether every pixel coordinate falls on an axis of `length` pixels (centres 0..length-1)."""
    finite = np.isfinite(coordinate).all()
    return bool(finite and coordinate.min() >= -0.5 and coordinate.max() <= length - 0.5)

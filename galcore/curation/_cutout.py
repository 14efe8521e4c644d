"""Cut a galaxy out of a survey image onto a common north-up grid."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.nddata import Cutout2D, NoOverlapError, PartialOverlapError
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
    brightnesses.

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
        If the cutout does not lie wholly on the image.
    """
    if field.unit.physical_type != "angle":
        msg = f"field must be an angle, got {field!r}"
        raise u.UnitTypeError(msg)
    ratio = field.to_value(u.arcsec) / size / image.pixel_scale_arcsec
    sigma = 0.5 * np.sqrt(max(ratio**2 - 1.0, 0.0))
    window = field * np.sqrt(2) + 2 * (4 * sigma + 2) * image.pixel_scale_arcsec * u.arcsec
    try:
        local = Cutout2D(image.data, position, window, wcs=image.wcs, mode="strict", copy=True)
    except (NoOverlapError, PartialOverlapError, ValueError) as error:
        msg = (
            f"galaxy {name} in {image.path.name}: {field:.0f} cutout does not lie on the"
            f" image {image.data.shape} ({error})"
        )
        raise OffFrameError(msg) from error
    data = np.nan_to_num(local.data, nan=0.0)
    if sigma > 0:
        data = gaussian_filter(data, sigma)
    target = north_up_wcs(position, size=size, field=field)
    columns, rows = np.meshgrid(np.arange(size), np.arange(size))
    source_x, source_y = local.wcs.world_to_pixel_values(
        *target.pixel_to_world_values(columns, rows)
    )
    resampled = map_coordinates(data, [source_y, source_x], order=1, mode="nearest")
    return resampled[::-1].astype(np.float32)

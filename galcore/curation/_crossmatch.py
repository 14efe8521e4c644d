"""One-to-one positional crossmatch of two catalogs."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

__all__ = ["crossmatch"]


def crossmatch(
    first: SkyCoord, second: SkyCoord, *, radius: u.Quantity = 1 * u.arcsec
) -> tuple[np.ndarray, np.ndarray]:
    """Match two catalogs one to one: pairs that are each other's nearest neighbour within `radius`.

    Parameters
    ----------
    first, second
        Positions of the two catalogs.
    radius
        Largest separation of a match.

    Returns
    -------
    index_first, index_second : numpy.ndarray
        Matched positions in `first` and `second`, the same length, each index at most once.

    Examples
    --------
    >>> a = SkyCoord([10.0, 10.1] * u.deg, [0.0, 0.0] * u.deg)
    >>> b = SkyCoord([10.1001, 10.0] * u.deg, [0.0, 0.0] * u.deg)
    >>> crossmatch(a, b, radius=1 * u.arcsec)
    (array([0]), array([1]))
    """
    if radius.unit.physical_type != "angle":
        msg = f"radius must be an angle, got {radius!r}"
        raise u.UnitTypeError(msg)
    if len(first) == 0 or len(second) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    nearest_second, separation, _ = first.match_to_catalog_sky(second)
    nearest_first, _, _ = second.match_to_catalog_sky(first)
    index_first = np.arange(len(first))
    mutual = nearest_first[nearest_second] == index_first
    keep = mutual & (separation <= radius)
    return index_first[keep], np.asarray(nearest_second[keep], dtype=np.int64)

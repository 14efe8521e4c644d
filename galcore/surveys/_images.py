"""A survey image on one flux scale, whatever the survey."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.wcs import WCS

__all__ = ["SurveyImage"]


@dataclass(frozen=True)
class SurveyImage:
    """One band of a frame or tile as surface brightness in nanomaggies per square arcsecond.

    Attributes
    ----------
    data
        float32 (ny, nx) surface brightness; NaN where the survey masks a pixel.
    wcs
        The celestial WCS of `data`.
    path
        The file it came from (for messages).
    """

    data: np.ndarray
    wcs: WCS
    path: Path

    @property
    def pixel_scale_arcsec(self) -> float:
        """Mean pixel side in arcseconds."""
        return float(u.Quantity(self.wcs.proj_plane_pixel_scales()).mean().to_value(u.arcsec))

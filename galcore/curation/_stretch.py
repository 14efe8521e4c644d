"""One colour stretch for every survey: asinh (Lupton et al. 2004) on surface brightness."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from astropy.visualization import make_lupton_rgb

from galcore.errors import CurationError

__all__ = ["ColourStretch"]


@dataclass(frozen=True)
class ColourStretch:
    """Map g, r, i surface brightness (nanomaggies per arcsec^2) to uint8 RGB = (i, r, g).

    Attributes
    ----------
    stretch
        Linear range of the asinh stretch, in nanomaggies per arcsec^2.
    q
        Asinh softening; larger shows faint outskirts more.
    minimum
        Black point, in nanomaggies per arcsec^2: about SDSS's noise per pixel at the catalog's
        resolution, so that the sky is black in both surveys and a galaxy shows down to the
        same surface brightness in each, however much deeper DES is.
    """

    stretch: float = 1.0
    q: float = 8.0
    minimum: float = 0.2

    def __post_init__(self) -> None:
        if self.stretch <= 0 or self.q <= 0 or self.minimum < 0:
            msg = (
                f"colour stretch {self.stretch}, q {self.q} and black point {self.minimum}:"
                " the first two must be > 0, the black point >= 0"
            )
            raise CurationError(msg)

    @classmethod
    def recorded(cls, settings: Mapping[str, float]) -> ColourStretch:
        """Return the stretch a catalog recorded (catalogs before the black point had none)."""
        return cls(**{"minimum": 0.0, **settings})

    def __call__(self, g: np.ndarray, r: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Return the uint8 (S, S, 3) colour image."""
        return make_lupton_rgb(i, r, g, minimum=self.minimum, stretch=self.stretch, Q=self.q)

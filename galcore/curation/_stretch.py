"""One colour stretch for every survey: asinh (Lupton et al. 2004) on surface brightness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.visualization import make_lupton_rgb

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
    """

    stretch: float = 1.0
    q: float = 8.0

    def __call__(self, g: np.ndarray, r: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Return the uint8 (S, S, 3) colour image."""
        return make_lupton_rgb(i, r, g, minimum=0.0, stretch=self.stretch, Q=self.q)

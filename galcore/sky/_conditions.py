"""Observing conditions of a sky, relative to the surveys' nominal ones.

The same seed with other conditions draws the same galaxies, Galaxy Zoo votes, stars and
artefact positions, and renders them with another seeing, depth and artefact rate: a paired
test of how much a model trained on nominal images loses on images taken otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from galcore.errors import SkyError
from galcore.sky._contaminants import ArtefactRates
from galcore.sky._render import Instrument

__all__ = ["SkyConditions"]


@dataclass(frozen=True)
class SkyConditions:
    """Factors on each survey's nominal conditions (1: nominal).

    Parameters
    ----------
    seeing
        Factor on the PSF's FWHM in every band (1.3: SDSS r 1.4" becomes 1.8").
    noise
        Factor on the sky noise per pixel (2: each survey about 0.75 mag shallower).
    artefacts
        Factor on the cosmic-ray density and on the chances of a satellite trail and of a
        bad column (chances capped at 1).
    """

    seeing: float = 1.0
    noise: float = 1.0
    artefacts: float = 1.0

    def __post_init__(self) -> None:
        for name in ("seeing", "noise", "artefacts"):
            value = getattr(self, name)
            if not (value > 0 if name != "artefacts" else value >= 0):
                msg = f"sky conditions: {name}={value} must be > 0 (artefacts >= 0)"
                raise SkyError(msg)

    @property
    def nominal(self) -> bool:
        """Whether these are the surveys' own conditions."""
        return self == SkyConditions()

    def instrument(self, instrument: Instrument) -> Instrument:
        """Return the survey observing under these conditions."""
        return dataclasses.replace(
            instrument,
            psf_fwhm={band: fwhm * self.seeing for band, fwhm in instrument.psf_fwhm.items()},
            sky_sigma={band: sigma * self.noise for band, sigma in instrument.sky_sigma.items()},
        )

    def rates(self, rates: ArtefactRates) -> ArtefactRates:
        """Return the survey's artefact rates under these conditions."""
        return ArtefactRates(
            cosmic_rays_per_arcmin2=rates.cosmic_rays_per_arcmin2 * self.artefacts,
            trail=min(1.0, rates.trail * self.artefacts),
            bad_column=min(1.0, rates.bad_column * self.artefacts),
        )

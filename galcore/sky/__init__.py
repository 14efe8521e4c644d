"""The synthetic sky: Galaxy Zoo, SDSS and DES files in their real formats, with known truth."""

from __future__ import annotations

from galcore.sky._conditions import SkyConditions
from galcore.sky._make import SkyManifest, make_sky

__all__ = ["SkyConditions", "SkyManifest", "make_sky"]

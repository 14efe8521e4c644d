"""Curation: Galaxy Zoo labels, SDSS and DES images, one catalog of matched cutouts."""

from __future__ import annotations

from galcore.curation._append import add_to_catalog, catalog_config
from galcore.curation._config import CurationConfig, CurationSummary
from galcore.curation._crossmatch import crossmatch
from galcore.curation._curate import curate_catalog
from galcore.curation._cutout import cutout, north_up_wcs
from galcore.curation._inputs import SurveyInputs
from galcore.curation._pipeline import STATUS_CODES
from galcore.curation._sets import SetFractions, assign_sets
from galcore.curation._stretch import ColourStretch

__all__ = [
    "STATUS_CODES",
    "ColourStretch",
    "CurationConfig",
    "CurationSummary",
    "SetFractions",
    "SurveyInputs",
    "add_to_catalog",
    "assign_sets",
    "catalog_config",
    "crossmatch",
    "curate_catalog",
    "cutout",
    "north_up_wcs",
]

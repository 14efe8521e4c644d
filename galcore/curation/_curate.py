"""Curation: survey files in, one Zarr catalog of labelled, matched, stretched cutouts out."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.curation._columns import catalog_sets, image_groups, object_columns, provenance
from galcore.curation._config import CurationConfig, CurationSummary
from galcore.curation._crossmatch import crossmatch
from galcore.curation._inputs import SurveyInputs
from galcore.curation._pipeline import STATUS_CODES, run_plan
from galcore.curation._read import read_tables
from galcore.errors import CurationError
from store import Catalog, CatalogSink, CatalogWriter, StoreNotFoundError, Workspace

__all__ = ["curate_catalog"]

logger = logging.getLogger(__name__)


def _refuse_replacing_runs(path: Path, *, replace: bool) -> None:
    """Raise if curating would replace a catalog that holds runs, unless asked to."""
    if replace:
        return
    try:
        runs = Catalog(path, mode="r").runs()
    except StoreNotFoundError:
        return
    if runs:
        msg = (
            f"{path} holds runs ({', '.join(runs)}) that a new catalog would replace; curate"
            " into another --workspace, or pass --replace to drop them (the ledger is kept)"
        )
        raise CurationError(msg)


class _NewCatalog:
    """The `CurationPlan` of a full curation: every object, into a new catalog."""

    n_known = 0
    status_codes = STATUS_CODES

    def __init__(self, inputs: SurveyInputs, path: Path, config: CurationConfig) -> None:
        sdss, des = read_tables(inputs)
        pairs = crossmatch(
            SkyCoord(sdss["ra"].to_numpy() * u.deg, sdss["dec"].to_numpy() * u.deg),
            SkyCoord(des["RA"].to_numpy() * u.deg, des["DEC"].to_numpy() * u.deg),
            radius=config.match_radius_arcsec * u.arcsec,
        )
        logger.info(
            "crossmatch: %d SDSS-DES pairs within %.1f arcsec",
            len(pairs[0]),
            config.match_radius_arcsec,
        )
        self.counts = {"n_sdss": len(sdss), "n_des": len(des), "n_matched": len(pairs[0])}
        self.columns = object_columns(sdss, des, pairs)
        self.groups = image_groups(sdss, des, inputs)
        self._path, self._inputs, self._config = path, inputs, config

    def open_sink(self) -> CatalogSink:
        """Return a writer of the new catalog, with the curation's provenance."""
        return CatalogWriter(
            self._path,
            self.columns,
            image_size=self._config.size,
            status_codes=STATUS_CODES,
            attrs=provenance(self._inputs, self._config),
        )

    def sets(self, ok: np.ndarray, partial: np.ndarray) -> np.ndarray:
        """Return every row's sets, seeded by the configuration."""
        return catalog_sets(self.columns, ok, self._config, partial=partial, seed=self._config.seed)

    def finish(self, counts: dict[str, int]) -> None:
        """Nothing more to write."""


def curate_catalog(
    inputs: SurveyInputs,
    workspace: Path,
    *,
    config: CurationConfig | None = None,
    replace: bool = False,
) -> CurationSummary:
    """Curate SDSS and DES galaxies with Galaxy Zoo labels into the workspace's catalog.

    Reads Galaxy Zoo 1 table 2 (duplicates removed, the 0.985 / 0.926 confidence thresholds),
    the SDSS PhotoObj rows and frames, and the DES catalog and tiles; matches SDSS and DES one
    to one within the match radius; cuts out g, r, i around every object onto one north-up grid
    of the same angular size for both surveys, on one flux scale with one colour stretch (a
    cutout running off its named frame or tile comes from a neighbouring one that holds more
    of it, and is kept as ``partial`` while at most `CurationConfig.max_missing` of it is off
    the images); and assigns the train, val, hp_test, fo_test and unlabelled sets. The new
    catalog (with a new ``catalog_id``) replaces the old one in one step, and only when
    complete. Either survey may be curated alone (`SurveyInputs` with its inputs only): SDSS
    alone gives labelled galaxies to train on but no test sets (those need DES counterparts);
    DES alone gives unlabelled galaxies to classify.

    Parameters
    ----------
    inputs
        The survey files.
    workspace
        The workspace folder; the catalog goes to ``<workspace>/catalog.zarr``.
    config
        Curation settings; the defaults by default.
    replace
        Replace a catalog that holds runs (and so drop the runs); refused otherwise.

    Returns
    -------
    CurationSummary
        Counts of objects, matches, failures by reason and set members.

    Raises
    ------
    MissingInputError
        If an input file or folder does not exist.
    CurationError
        If a table is malformed, if the catalog holds runs and `replace` is false, or in
        ``"strict"`` mode for the first object that fails.
    DiskFullError
        If the disk fills up; the catalog is as it was.

    Warns
    -----
    CurationWarning
        Once, with the counts, if objects failed (they stay in the catalog with their reason).
    """
    config = config or CurationConfig()
    began = time.monotonic()
    path = Workspace(workspace).catalog_path
    _refuse_replacing_runs(path, replace=replace)
    inputs.check()
    return run_plan(_NewCatalog(inputs, path, config), inputs, config, began=began)

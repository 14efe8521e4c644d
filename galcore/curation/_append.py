"""Incremental curation: add new galaxies (new tiles, new fields) to a curated catalog.

What the catalog holds is never recomputed: its rows keep their index, images and sets (runs
and the review ledger refer to rows), and the new objects are cut out and appended after them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.curation._columns import (
    GALAXY_ZOO_COLUMNS,
    catalog_sets,
    image_groups,
    object_columns,
    provenance,
)
from galcore.curation._config import CurationConfig, CurationSummary
from galcore.curation._crossmatch import crossmatch
from galcore.curation._inputs import SurveyInputs
from galcore.curation._pipeline import run_plan
from galcore.curation._read import read_tables
from galcore.curation._sets import SetFractions
from galcore.curation._stretch import ColourStretch
from galcore.errors import CurationError
from store import Catalog, CatalogAppender, CatalogSink, Workspace
from store.schema import SURVEYS, sets_code, utc_now

__all__ = ["add_to_catalog", "catalog_config"]

logger = logging.getLogger(__name__)

_FIXED = {  # settings a catalog's rows must share: what they are called, the CLI option
    "size": ("image size", "--size"),
    "field_arcsec": ("cutout field (arcsec)", "--field"),
    "stretch": ("colour stretch", None),
    "match_radius_arcsec": ("match radius (arcsec)", None),
}


def _recorded(catalog: Catalog) -> CurationConfig:
    """Return the settings a catalog was curated with (its ``curation`` attribute)."""
    recorded = catalog.attrs.get("curation")
    if recorded is None:
        msg = (
            f"{catalog.path} does not record how it was curated, so nothing can be added to it;"
            " curate the inputs anew with 'galcore curate'"
        )
        raise CurationError(msg)
    known = {field.name for field in dataclasses.fields(CurationConfig)}
    settings = {name: value for name, value in recorded.items() if name in known}
    settings["stretch"] = ColourStretch.recorded(recorded["stretch"])
    settings["fractions"] = SetFractions(**recorded["fractions"])
    return CurationConfig(**settings)


def catalog_config(workspace: Path, **changes: object) -> CurationConfig:
    """Return the settings the workspace's catalog was curated with, with some changed.

    Parameters
    ----------
    workspace
        The workspace folder.
    **changes
        `CurationConfig` fields to change (e.g. ``workers``).

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog.
    CurationError
        If the catalog does not record its curation settings.
    """
    return dataclasses.replace(_recorded(Workspace(workspace).catalog(mode="r")), **changes)


def _check_config(catalog: Catalog, config: CurationConfig) -> None:
    """Raise if the new objects would be cut out or matched unlike the catalog's."""
    recorded = _recorded(catalog)
    for name, (what, option) in _FIXED.items():
        old, new = getattr(recorded, name), getattr(config, name)
        if old != new:
            hint = f" ({option} {old})" if option else ""
            msg = (
                f"{catalog.path} was curated with {what} {old}, not {new}: add with the"
                f" catalog's{hint}, or curate into another --workspace"
            )
            raise CurationError(msg)


def _new_rows(table: pd.DataFrame, existing: dict[str, np.ndarray], survey: str) -> pd.DataFrame:
    """Return the rows of a survey's table whose objects the catalog does not hold."""
    held = existing["object_id"][existing["survey"] == SURVEYS.index(survey)]
    return table[~table.index.isin(held)]


def _positions(
    existing: dict[str, np.ndarray], rows: np.ndarray, ra: pd.Series, dec: pd.Series
) -> SkyCoord:
    """Positions of some of the catalog's rows followed by those of new objects."""
    return SkyCoord(
        np.r_[existing["ra"][rows], ra.to_numpy()] * u.deg,
        np.r_[existing["dec"][rows], dec.to_numpy()] * u.deg,
    )


def _match(
    existing: dict[str, np.ndarray], sdss: pd.DataFrame, des: pd.DataFrame, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Match the new objects with each other and with the catalog's objects that have no match.

    Every SDSS object is matched with every DES object (as a full curation would), and the
    pairs that join a new object with a new one or with an unmatched one of the catalog kept;
    the catalog's matches never change.

    Returns
    -------
    sdss_rows, des_rows : numpy.ndarray
        Rows of the pairs, the new objects numbered after the catalog's (SDSS, then DES).
    """
    first, survey = len(existing["object_id"]), existing["survey"]
    old_sdss, old_des = (np.flatnonzero(survey == SURVEYS.index(name)) for name in SURVEYS)
    sdss_rows = np.r_[old_sdss, first + np.arange(len(sdss))]
    des_rows = np.r_[old_des, first + len(sdss) + np.arange(len(des))]
    i, j = crossmatch(
        _positions(existing, old_sdss, sdss["ra"], sdss["dec"]),
        _positions(existing, old_des, des["RA"], des["DEC"]),
        radius=radius * u.arcsec,
    )
    a, b = sdss_rows[i], des_rows[j]
    free = np.r_[existing["match_index"] < 0, np.ones(len(sdss) + len(des), dtype=bool)]
    keep = ((a >= first) | (b >= first)) & free[a] & free[b]
    return a[keep], b[keep]


def _new_sets(
    columns: dict[str, np.ndarray],
    ok: np.ndarray,
    partial: np.ndarray,
    config: CurationConfig,
    first: int,
    held: np.ndarray,
) -> np.ndarray:
    """Return the sets of the new rows; the catalog's rows (whose sets are `held`) keep theirs.

    New objects are assigned among themselves as a full curation assigns them, by the same
    fractions: a new confident SDSS-DES pair may join hp_test, a new confident SDSS object
    (and its new DES counterpart) train or val; objects with a partial cutout join no test set.
    A new object matched with one of the catalog cannot form a test pair, since that object's
    sets stay as they are: a new SDSS object is assigned as if unmatched (its DES counterpart
    stays unlabelled), and a new DES object joins its SDSS counterpart's train or val set, or
    none (that object, unmatched until now, was never in a test set to share).
    """
    match = columns["match_index"]
    local = dict(columns, match_index=np.where(match >= first, match - first, -1))
    seed = int(np.random.SeedSequence([config.seed, first]).generate_state(1)[0])
    sets = catalog_sets(local, ok, config, partial=partial, seed=seed)
    joins = (match >= 0) & (match < first) & (columns["survey"] == SURVEYS.index("des"))
    usable = ok | partial
    sets[joins] = np.where(usable[joins], held[match[joins]] & sets_code(["train", "val"]), 0)
    return sets


def _joined(pairs: tuple[np.ndarray, np.ndarray], first: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the pairs of a new SDSS object with a catalog DES object, and the other way."""
    a, b = pairs
    return (a >= first) & (b < first), (a < first) & (b >= first)


def _new_columns(
    existing: dict[str, np.ndarray],
    sdss: pd.DataFrame,
    des: pd.DataFrame,
    pairs: tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """Object columns of the new rows, `match_index` by catalog row.

    A new DES object matched with an SDSS object of the catalog takes its Galaxy Zoo votes.
    """
    first = len(existing["object_id"])
    a, b = pairs
    both = (a >= first) & (b >= first)
    columns = object_columns(sdss, des, (a[both] - first, b[both] - first - len(sdss)))
    match = columns["match_index"]
    match[match >= 0] += first
    new_sdss, new_des = _joined(pairs, first)
    match[a[new_sdss] - first] = b[new_sdss]
    match[b[new_des] - first] = a[new_des]
    for name in GALAXY_ZOO_COLUMNS:
        columns[name][b[new_des] - first] = existing[name][a[new_des]]
    return columns


def _record(
    inputs: SurveyInputs, config: CurationConfig, rows: range, counts: dict[str, int]
) -> dict[str, object]:
    """Return the entry of an addition in the catalog's ``additions`` attribute."""
    made = provenance(inputs, config)
    return {
        "added": utc_now(),
        "inputs": made["inputs"],
        "rows": [rows.start, rows.stop],
        **counts,
        "seed": config.seed,
        "code_version": made["code_version"],
    }


class _Addition:
    """The `CurationPlan` of an addition: the inputs' new objects, appended to the catalog."""

    def __init__(
        self,
        catalog: Catalog,
        new: tuple[pd.DataFrame, pd.DataFrame],
        existing: dict[str, np.ndarray],
        inputs: SurveyInputs,
        config: CurationConfig,
    ) -> None:
        sdss, des = new
        self._first = first = len(catalog)
        self._pairs = _match(existing, sdss, des, config.match_radius_arcsec)
        self._joined = _joined(self._pairs, first)
        self.counts = {
            "n_sdss": len(sdss),
            "n_des": len(des),
            "n_matched": len(self._pairs[0]),
            "n_joined": int(sum(joined.sum() for joined in self._joined)),
        }
        logger.info(
            "crossmatch: %d new SDSS-DES pairs within %.1f arcsec, %d of them with catalog objects",
            self.counts["n_matched"],
            config.match_radius_arcsec,
            self.counts["n_joined"],
        )
        self.n_known = 0
        self.status_codes = catalog.status_codes
        self.columns = _new_columns(existing, sdss, des, self._pairs)
        self.groups = [
            dataclasses.replace(group, start=group.start + first)
            for group in image_groups(sdss, des, inputs)
        ]
        self._catalog, self._inputs, self._config = catalog, inputs, config
        self._appender: CatalogAppender | None = None

    def open_sink(self) -> CatalogSink:
        """Return an appender of the new rows to the catalog."""
        self._appender = CatalogAppender(self._catalog.path, self.columns)
        return self._appender

    def sets(self, ok: np.ndarray, partial: np.ndarray) -> np.ndarray:
        """Return the new rows' sets; the catalog's rows keep theirs (`_new_sets`)."""
        held = self._catalog.column("sets")
        return _new_sets(self.columns, ok, partial, self._config, self._first, held)

    def finish(self, counts: dict[str, int]) -> None:
        """Link the catalog's unmatched objects with their new counterparts; record the addition."""
        (a, b), (new_sdss, new_des) = self._pairs, self._joined
        self._appender.link(b[new_sdss], a[new_sdss], carried=GALAXY_ZOO_COLUMNS)
        self._appender.link(a[new_des], b[new_des])
        entry = _record(self._inputs, self._config, self._appender.rows, counts)
        self._appender.update_attrs(additions=[*self._catalog.attrs.get("additions", []), entry])


def add_to_catalog(
    inputs: SurveyInputs, workspace: Path, *, config: CurationConfig | None = None
) -> CurationSummary:
    """Add the objects of the inputs that a curated catalog does not hold yet.

    Objects whose (survey, object id) the catalog holds are left as they are. The new ones are
    matched with each other and with the catalog's objects of the other survey that have no
    match yet (one to one, within the match radius), cut out onto the catalog's grid and
    stretch, and appended as new rows; the catalog's rows keep their index, images and sets,
    and those that found a counterpart get its row (and, for a DES object, its Galaxy Zoo
    votes). Runs keep what they hold, with NaN (not predicted) for the new rows. The addition
    is recorded in the catalog's ``additions`` attribute, and the catalog is replaced only when
    it is complete: a failure leaves it as it was.

    Parameters
    ----------
    inputs
        The survey files: SDSS's, DES's or both, as for `curate_catalog`.
    workspace
        The workspace whose catalog grows.
    config
        Curation settings; by default the catalog's. Image size, field, stretch and match
        radius must be the catalog's; ``seed`` seeds the new rows' sets, with ``fractions``.

    Returns
    -------
    CurationSummary
        The new rows and their counts (none when the catalog held every object already).

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog.
    MissingInputError
        If an input file or folder does not exist.
    CurationError
        If a table is malformed, the settings differ from the catalog's, or in ``"strict"``
        mode for the first object that fails.
    DiskFullError
        If the disk fills up; the catalog is as it was.

    Warns
    -----
    CurationWarning
        Once, with the counts, if new objects failed (they are added with their reason).
    """
    began = time.monotonic()
    path = Workspace(workspace).catalog_path
    catalog = Catalog(path, mode="r")
    config = config or _recorded(catalog)
    _check_config(catalog, config)
    inputs.check()
    sdss, des = read_tables(inputs)
    existing = catalog.columns(
        ["object_id", "survey", "ra", "dec", "match_index", *GALAXY_ZOO_COLUMNS]
    )
    first, n_inputs = len(catalog), len(sdss) + len(des)
    sdss, des = _new_rows(sdss, existing, "sdss"), _new_rows(des, existing, "des")
    n_known = n_inputs - len(sdss) - len(des)
    logger.info(
        "%d new objects; %d of the inputs' are in %s already", n_inputs - n_known, n_known, path
    )
    if not len(sdss) + len(des):
        seconds = time.monotonic() - began
        nothing = range(first, first)
        return CurationSummary(path, 0, 0, 0, {}, {}, seconds, rows=nothing, n_known=n_known)
    plan = _Addition(catalog, (sdss, des), existing, inputs, config)
    summary = dataclasses.replace(run_plan(plan, inputs, config, began=began), n_known=n_known)
    logger.info("added rows %d-%d to %s", first, summary.rows.stop - 1, path)
    if runs := catalog.runs():
        logger.info("runs %s: no predictions for the new rows yet", ", ".join(runs))
    return summary

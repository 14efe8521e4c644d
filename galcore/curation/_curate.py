"""Curation: survey files in, one Zarr catalog of labelled, matched, stretched cutouts out."""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.curation._config import CurationConfig, CurationSummary
from galcore.curation._crossmatch import crossmatch
from galcore.curation._groups import BANDS, GroupResult, ImageGroup, cut_group
from galcore.curation._inputs import SurveyInputs
from galcore.curation._overlap import apply_neighbour_cuts, plan_neighbour_cuts
from galcore.curation._read import read_tables
from galcore.curation._sets import assign_sets
from galcore.errors import CurationError, CurationWarning, OffFrameError
from galcore.surveys import (
    DES_PIXEL_SCALE_ARCSEC,
    EL_THRESHOLD,
    SPIRAL_THRESHOLD,
    find_frames,
    find_tiles,
    tsfield_calibrations,
)
from store import Catalog, CatalogAppender, CatalogWriter, Workspace
from store.schema import NO_LABEL, OBJECT_COLUMNS, SETS, SURVEYS, set_mask

__all__ = ["STATUS_CODES", "CurationConfig", "CurationSummary", "curate_catalog"]

logger = logging.getLogger(__name__)

STATUS_CODES = (
    "ok",
    "missing_band",
    "off_frame",
    "unreadable_file",
    "curation_failed",
    "unknown_units",
    "partial",
)
GALAXY_ZOO_COLUMNS = ("label", "gz_nvote", "gz_p_el", "gz_p_cs")
"""Columns that belong to the galaxy, not to a survey's view of it: a DES match has them too."""


def _columns(
    sdss: pd.DataFrame, des: pd.DataFrame, pairs: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Object columns of the SDSS rows followed by the DES rows."""
    n_sdss, n = len(sdss), len(sdss) + len(des)
    sdss_rows, des_rows = pairs[0], pairs[1] + n_sdss
    columns = {
        name: np.full(n, np.nan if dtype.kind == "f" else 0, dtype=dtype)
        for name, dtype in OBJECT_COLUMNS.items()
    }
    columns["object_id"] = np.concatenate([sdss.index.to_numpy(), des.index.to_numpy()])
    columns["survey"] = np.repeat(np.arange(2, dtype=np.uint8), [n_sdss, len(des)])
    columns["ra"] = np.concatenate([sdss["ra"].to_numpy(), des["RA"].to_numpy()])
    columns["dec"] = np.concatenate([sdss["dec"].to_numpy(), des["DEC"].to_numpy()])
    for band in "gri":
        columns[f"mag_{band}"] = np.concatenate(
            [sdss[band], des[f"MAG_AUTO_{band.upper()}"]]
        ).astype(np.float32)
    radius = des["FLUX_RADIUS_R"].to_numpy() * DES_PIXEL_SCALE_ARCSEC
    columns["radius"] = np.concatenate([sdss["petroRad_r"].to_numpy(), radius]).astype(np.float32)
    columns["match_index"] = np.full(n, -1, dtype=np.int64)
    columns["match_index"][sdss_rows], columns["match_index"][des_rows] = des_rows, sdss_rows
    columns["label"] = np.full(n, NO_LABEL, dtype=np.int8)
    columns["label"][:n_sdss] = sdss["label"].fillna(NO_LABEL).to_numpy()
    columns["gz_nvote"] = np.zeros(n, dtype=np.int16)
    columns["gz_nvote"][:n_sdss] = sdss["nvote"].fillna(0).to_numpy()
    columns["gz_p_el"][:n_sdss] = sdss["p_el"].to_numpy()
    columns["gz_p_cs"][:n_sdss] = sdss["p_cs"].to_numpy()
    for name in GALAXY_ZOO_COLUMNS:
        columns[name][des_rows] = columns[name][sdss_rows]
    columns["sets"] = np.zeros(n, dtype=np.uint8)
    columns["status"] = np.zeros(n, dtype=np.uint8)
    return columns


def _sdss_groups(sdss: pd.DataFrame, frames_dir: Path) -> Iterator[ImageGroup]:
    """One group per SDSS field, in row order; DR7 frames carry their tsField."""
    frames = find_frames(frames_dir)
    tsfields = tsfield_calibrations(frames, frames_dir)
    start = 0
    for (run, camcol, fld), rows in sdss.groupby(["run", "camcol", "field"], sort=False):
        keys = {b: (b, int(run), int(camcol), int(fld)) for b in BANDS}
        expected = {
            b: f"frame-{b}-{run:06d}-{camcol}-{fld:04d}.fits.bz2 (or DR7"
            f" fpC-{run:06d}-{b}{camcol}-{fld:04d}.fit[.gz]) under {frames_dir}"
            for b in BANDS
        }
        group = _group("sdss", start, rows.index, rows["ra"], rows["dec"], frames, keys, expected)
        calibrations = {b: tsfields[key] for b, key in keys.items() if key in tsfields}
        yield dataclasses.replace(group, calibrations=calibrations)
        start += len(rows)


def _des_groups(des: pd.DataFrame, tiles_dir: Path, start: int) -> Iterator[ImageGroup]:
    """One group per DES tile, in row order, rows numbered from `start`."""
    tiles = find_tiles(tiles_dir)
    for tile, rows in des.groupby("TILENAME", sort=False):
        keys = {b: (tile, b) for b in BANDS}
        expected = {b: f"{tile}_r*p*_{b}.fits.fz under {tiles_dir}" for b in BANDS}
        yield _group("des", start, rows.index, rows["RA"], rows["DEC"], tiles, keys, expected)
        start += len(rows)


def _groups(sdss: pd.DataFrame, des: pd.DataFrame, inputs: SurveyInputs) -> list[ImageGroup]:
    """Return the image groups of the SDSS rows followed by those of the DES rows, from row 0."""
    return [
        *(_sdss_groups(sdss, inputs.sdss_frames) if len(sdss) else ()),
        *(_des_groups(des, inputs.des_tiles, len(sdss)) if len(des) else ()),
    ]


def _group(survey, start, ids, ra, dec, files, keys, expected) -> ImageGroup:  # noqa: ANN001
    """Return an ImageGroup with the files found for each band and the names of the missing ones."""
    return ImageGroup(
        survey=survey,
        start=start,
        names=tuple(f"{survey.upper()} {i}" for i in ids),
        ra=ra.to_numpy(dtype=float),
        dec=dec.to_numpy(dtype=float),
        paths={b: files[key] for b, key in keys.items() if key in files},
        missing={b: expected[b] for b, key in keys.items() if key not in files},
    )


def _cut_all(groups: list[ImageGroup], config: CurationConfig) -> Iterator[GroupResult]:
    """Cut out every group, in parallel when asked, yielding results in row order."""
    options = {
        "size": config.size,
        "field_arcsec": config.field_arcsec,
        "stretch": config.stretch,
        "max_missing": config.max_missing,
    }
    if config.workers == 1:
        yield from (cut_group(group, **options) for group in groups)
        return
    with ProcessPoolExecutor(config.workers) as pool:
        pending: deque[Future[GroupResult]] = deque()
        for group in groups:
            pending.append(pool.submit(cut_group, group, **options))
            if len(pending) > 2 * config.workers:  # bound the images held in memory
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _write_images(
    writer: CatalogWriter | CatalogAppender, groups: list[ImageGroup], config: CurationConfig
) -> tuple[dict[int, tuple[str, str]], np.ndarray]:
    """Write every image in row order; return the failures and the cutouts' missing fractions.

    The failures are row -> (reason, message); the fractions of each cutout off its images
    are by row (NaN before the groups' first row). In strict mode a cutout off its images
    fails only once no neighbouring file holds it (`_cut_from_neighbours`).
    """
    failures: dict[int, tuple[str, str]] = {}
    missing = np.full(max((g.start + len(g) for g in groups), default=0), np.nan, np.float32)
    total, done, began = sum(map(len, groups)), 0, time.monotonic()
    for result in _cut_all(groups, config):
        writer.write_images(result.start, result.images)
        missing[result.start : result.start + len(result.images)] = result.missing
        for offset, reason, message in result.failures:
            if config.mode == "strict" and reason != OffFrameError.reason:
                raise CurationError(message)
            failures[result.start + offset] = (reason, message)
        done += len(result.images)
        elapsed = time.monotonic() - began
        logger.info(
            "cut out %d/%d galaxies (%.0f%%), %.0f s, ~%.0f s left",
            done,
            total,
            100 * done / total,
            elapsed,
            elapsed * (total - done) / done,
        )
    return failures, missing


def _cut_from_neighbours(
    writer: CatalogWriter | CatalogAppender,
    groups: list[ImageGroup],
    inputs: SurveyInputs,
    config: CurationConfig,
    cut: tuple[dict[int, tuple[str, str]], np.ndarray],
) -> int:
    """Cut the galaxies at the edge of their files from neighbours that hold more of them.

    `cut` is what `_write_images` returned; it is updated. Returns how many galaxies were cut
    from a neighbour; in strict mode, raises for the first galaxy still failing.
    """
    failures, missing = cut
    plans = plan_neighbour_cuts(
        inputs, groups, missing, size=config.size, field_arcsec=config.field_arcsec
    )
    results = _cut_all([plan.group for plan in plans], config)
    moved = apply_neighbour_cuts(writer, plans, results, failures, missing)
    if config.mode == "strict" and failures:
        raise CurationError(failures[min(failures)][1])
    return moved


def _statuses(
    failures: dict[int, tuple[str, str]],
    missing: np.ndarray,
    rows: range,
    codes: tuple[str, ...],
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return the status of each of `rows` and the status names: `codes` and any it lacks.

    A row that did not fail is ``partial`` where `missing` (by catalog row, as `failures`) is
    above 0, ``ok`` otherwise.
    """
    names = list(codes)
    status = np.zeros(len(rows), dtype=np.uint8)
    partial = np.flatnonzero(missing[rows.start : rows.stop] > 0) + rows.start
    reasons = dict.fromkeys(partial.tolist(), "partial")
    reasons |= {row: reason for row, (reason, _) in failures.items()}
    for row, reason in reasons.items():
        name = reason if reason in STATUS_CODES else "curation_failed"
        if name not in names:
            names.append(name)
        status[row - rows.start] = names.index(name)
    return status, tuple(names)


def _sets(
    columns: dict[str, np.ndarray],
    ok: np.ndarray,
    config: CurationConfig,
    *,
    partial: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Return the `sets` code of each row of `columns` (`match_index` among those rows).

    `ok` and `partial` mark the rows with a whole and with a partial cutout.
    """
    confident = (columns["gz_p_cs"] >= SPIRAL_THRESHOLD) | (columns["gz_p_el"] >= EL_THRESHOLD)
    return assign_sets(
        columns["survey"],
        columns["label"],
        confident,
        columns["match_index"],
        ok,
        partial=partial,
        fractions=config.fractions,
        seed=seed,
    )


def _warn_failures(failures: dict[int, tuple[str, str]], n: int) -> Counter[str]:
    """Warn once with the counts of the objects that failed, by reason; return the counts."""
    reasons = Counter(reason for reason, _ in failures.values())
    if reasons:
        counts = ", ".join(f"{k} {reason}" for reason, k in reasons.most_common())
        msg = (
            f"{len(failures)} of {n} objects could not be curated ({counts}); they stay"
            " in the catalog with their reason (see 'galcore export')"
        )
        warnings.warn(msg, CurationWarning, stacklevel=3)
    return reasons


def _refuse_replacing_runs(path: Path, *, replace: bool) -> None:
    """Raise if curating would replace a catalog that holds runs, unless asked to."""
    if replace or not path.exists():
        return
    runs = Catalog(path, mode="r").runs()
    if runs:
        msg = (
            f"{path} holds runs ({', '.join(runs)}) that a new catalog would replace; curate"
            " into another --workspace, or pass --replace to drop them (the ledger is kept)"
        )
        raise CurationError(msg)


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
    the images); and
    assigns the train, val, hp_test, fo_test and unlabelled sets. The new catalog replaces the
    old one only when complete. Either survey may be curated alone (`SurveyInputs` with its
    inputs only): SDSS alone gives labelled galaxies to train on but no test sets (those need
    DES counterparts); DES alone gives unlabelled galaxies to classify.

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
    columns = _columns(sdss, des, pairs)
    groups = _groups(sdss, des, inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = CatalogWriter(
        path,
        columns,
        image_size=config.size,
        status_codes=STATUS_CODES,
        attrs=_provenance(inputs, config),
    )
    try:
        failures, missing = cut = _write_images(writer, groups, config)
        from_neighbour = _cut_from_neighbours(writer, groups, inputs, config, cut)
        status, _ = _statuses(failures, missing, range(len(missing)), STATUS_CODES)
        writer.set_status(status, {row: message for row, (_, message) in failures.items()})
        writer.set_column("missing_fraction", missing)
        partial = status == STATUS_CODES.index("partial")
        sets = _sets(columns, status == 0, config, partial=partial, seed=config.seed)
        writer.set_column("sets", sets)
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    reasons = _warn_failures(failures, len(status))
    return CurationSummary(
        path=path,
        n_sdss=len(sdss),
        n_des=len(des),
        n_matched=len(pairs[0]),
        failures=dict(reasons),
        sets={name: int(set_mask(sets, name).sum()) for name in SETS},
        seconds=time.monotonic() - began,
        partial=int(partial.sum()),
        from_neighbour=from_neighbour,
    )


def _provenance(inputs: SurveyInputs, config: CurationConfig) -> dict:
    """Catalog attributes that say how it was made."""
    from galcore import __version__

    settings = asdict(config)
    return {
        "inputs": {name: str(path) for name, path in asdict(inputs).items() if path},
        "curation": settings,
        "thresholds": {"p_cs_debiased": SPIRAL_THRESHOLD, "p_el_debiased": EL_THRESHOLD},
        "surveys": list(SURVEYS),
        "bands": list(BANDS),
        "code_version": __version__,
    }

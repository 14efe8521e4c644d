"""Curation: survey files in, one Zarr catalog of labelled, matched, stretched cutouts out."""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.curation._crossmatch import crossmatch
from galcore.curation._groups import BANDS, GroupResult, ImageGroup, cut_group
from galcore.curation._inputs import SurveyInputs
from galcore.curation._sets import SetFractions, assign_sets
from galcore.curation._stretch import ColourStretch
from galcore.errors import CurationError, CurationWarning
from galcore.surveys import (
    DES_PIXEL_SCALE_ARCSEC,
    EL_THRESHOLD,
    SPIRAL_THRESHOLD,
    find_frames,
    find_tiles,
    read_des_catalog,
    read_galaxy_zoo,
    read_photoobj,
    tsfield_calibrations,
)
from store import Catalog, CatalogWriter, Workspace
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
)
MODES = ("skip", "strict")


@dataclass(frozen=True)
class CurationConfig:
    """How to curate: image size and field, crossmatch radius, stretch, sets, parallelism.

    Attributes
    ----------
    size
        Side of the stored images in pixels (the paper's network reads 299).
    field_arcsec
        Side of every cutout on the sky, the same for both surveys.
    match_radius_arcsec
        Largest SDSS-DES separation of a match.
    seed
        Seed of the set assignment.
    mode
        ``"skip"`` keeps objects that fail with their reason; ``"strict"`` stops at the first.
    workers
        Processes cutting out frames and tiles in parallel.
    """

    size: int = 128
    field_arcsec: float = 40.0
    match_radius_arcsec: float = 1.0
    seed: int = 0
    mode: str = "skip"
    workers: int = 1
    stretch: ColourStretch = field(default_factory=ColourStretch)
    fractions: SetFractions = field(default_factory=SetFractions)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            msg = f"mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            raise CurationError(msg)
        if not 16 <= self.size <= 1024:
            msg = f"size must be between 16 and 1024 pixels, got {self.size}"
            raise CurationError(msg)
        if self.field_arcsec <= 0 or self.workers < 1:
            msg = f"field_arcsec and workers must be > 0, got {self.field_arcsec}, {self.workers}"
            raise CurationError(msg)


@dataclass(frozen=True)
class CurationSummary:
    """What a curation wrote."""

    path: Path
    n_sdss: int
    n_des: int
    n_matched: int
    failures: dict[str, int]
    sets: dict[str, int]
    seconds: float


def _sdss_table(inputs: SurveyInputs) -> pd.DataFrame:
    """PhotoObj rows joined with their Galaxy Zoo votes, in frame order."""
    photo = read_photoobj(inputs.sdss_photo)
    gz = read_galaxy_zoo(inputs.gz)
    table = photo.join(gz.drop(columns=["ra", "dec"]), how="left")
    logger.info(
        "%d of %d SDSS objects have Galaxy Zoo votes", table["label"].notna().sum(), len(table)
    )
    return table.sort_values(["run", "camcol", "field"], kind="stable")


_SDSS_COLUMNS = ("ra", "dec", "g", "r", "i", "petroRad_r", "label", "nvote", "p_el", "p_cs")
_DES_COLUMNS = ("RA", "DEC", "MAG_AUTO_G", "MAG_AUTO_R", "MAG_AUTO_I", "FLUX_RADIUS_R")


def _empty(columns: tuple[str, ...], index: str) -> pd.DataFrame:
    """Return the table of a survey not curated: no rows, the columns `_columns` reads."""
    empty = pd.Index(np.array([], dtype=np.int64), name=index)
    return pd.DataFrame({name: np.array([], dtype=np.float64) for name in columns}, index=empty)


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
    for name in ("label", "gz_nvote", "gz_p_el", "gz_p_cs"):
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
    options = {"size": config.size, "field_arcsec": config.field_arcsec, "stretch": config.stretch}
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
    writer: CatalogWriter, groups: list[ImageGroup], config: CurationConfig
) -> dict[int, tuple[str, str]]:
    """Write every image in row order; return row -> (reason, message) of each failure."""
    failures: dict[int, tuple[str, str]] = {}
    total, done, began = sum(map(len, groups)), 0, time.monotonic()
    for result in _cut_all(groups, config):
        writer.write_images(result.start, result.images)
        for offset, reason, message in result.failures:
            if config.mode == "strict":
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
    return failures


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
    of the same angular size for both surveys, on one flux scale with one colour stretch; and
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
    sdss = _sdss_table(inputs) if inputs.has_sdss else _empty(_SDSS_COLUMNS, "objid")
    des = (
        read_des_catalog(inputs.des_catalog).sort_values("TILENAME", kind="stable")
        if inputs.has_des
        else _empty(_DES_COLUMNS, "COADD_OBJECT_ID")
    )
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
    groups = [
        *(_sdss_groups(sdss, inputs.sdss_frames) if inputs.has_sdss else ()),
        *(_des_groups(des, inputs.des_tiles, len(sdss)) if inputs.has_des else ()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = CatalogWriter(
        path,
        columns,
        image_size=config.size,
        status_codes=STATUS_CODES,
        attrs=_provenance(inputs, config),
    )
    try:
        failures = _write_images(writer, groups, config)
        status = np.zeros(len(columns["status"]), dtype=np.uint8)
        for row, (reason, _) in failures.items():
            status[row] = STATUS_CODES.index(
                reason if reason in STATUS_CODES else "curation_failed"
            )
        writer.set_status(status, {row: message for row, (_, message) in failures.items()})
        confident = (columns["gz_p_cs"] >= SPIRAL_THRESHOLD) | (columns["gz_p_el"] >= EL_THRESHOLD)
        sets = assign_sets(
            columns["survey"],
            columns["label"],
            confident,
            columns["match_index"],
            status == 0,
            fractions=config.fractions,
            seed=config.seed,
        )
        writer.set_column("sets", sets)
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    reasons = Counter(reason for reason, _ in failures.values())
    if reasons:
        counts = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        msg = (
            f"{len(failures)} of {len(status)} objects could not be curated ({counts}); they stay"
            " in the catalog with their reason (see 'galcore export')"
        )
        warnings.warn(msg, CurationWarning, stacklevel=2)
    return CurationSummary(
        path=path,
        n_sdss=len(sdss),
        n_des=len(des),
        n_matched=len(pairs[0]),
        failures=dict(reasons),
        sets={name: int(set_mask(sets, name).sum()) for name in SETS},
        seconds=time.monotonic() - began,
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

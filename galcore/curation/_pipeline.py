"""The one curation pipeline: cut out, find statuses and sets, write them to a catalog sink.

A full curation and an addition to a catalog run the same steps; they differ only in their
`CurationPlan`: the sink it opens (a new catalog or an addition), the rows' image groups,
the status names it starts from, how it assigns sets and what it does last before the commit.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Protocol

import numpy as np

from galcore.curation._config import CurationConfig, CurationSummary
from galcore.curation._groups import GroupResult, ImageGroup, cut_group
from galcore.curation._inputs import SurveyInputs
from galcore.curation._overlap import apply_neighbour_cuts, plan_neighbour_cuts
from galcore.errors import CurationError, CurationWarning, OffFrameError
from store import CatalogSink
from store.schema import SETS, set_mask

__all__ = ["STATUS_CODES", "CurationPlan", "run_plan"]

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


class CurationPlan(Protocol):
    """What a full curation and an addition differ in; `run_plan` runs the rest.

    `counts` are the counts known before cutting (``n_sdss``, ``n_des``, ``n_matched`` and,
    for an addition, ``n_joined``), `n_known` the inputs' objects the catalog held already,
    `groups` the image groups numbered by catalog row, `status_codes` the names to start from.
    """

    counts: dict[str, int]
    n_known: int
    groups: list[ImageGroup]
    status_codes: tuple[str, ...]

    def open_sink(self) -> CatalogSink:
        """Open the sink the rows are written to."""
        ...

    def sets(self, ok: np.ndarray, partial: np.ndarray) -> np.ndarray:
        """Return the `sets` code of the sink's rows from their whole and partial cutouts."""
        ...

    def finish(self, counts: dict[str, int]) -> None:
        """Write what else the plan writes, before the commit (`counts`: all of them)."""
        ...


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
    sink: CatalogSink, groups: list[ImageGroup], config: CurationConfig
) -> tuple[dict[int, tuple[str, str]], np.ndarray]:
    """Write every image in row order; return the failures and the cutouts' missing fractions.

    The failures are row -> (reason, message); the fractions of each cutout off its images
    are by catalog row (NaN before the sink's rows). In strict mode a cutout off its images
    fails only once no neighbouring file holds it (`_cut_from_neighbours`).
    """
    failures: dict[int, tuple[str, str]] = {}
    missing = np.full(sink.rows.stop, np.nan, np.float32)
    total, done, began = sum(map(len, groups)), 0, time.monotonic()
    for result in _cut_all(groups, config):
        sink.write_images(result.start, result.images)
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
    sink: CatalogSink,
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
    moved = apply_neighbour_cuts(sink, plans, results, failures, missing)
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


def _warn_failures(failures: dict[int, tuple[str, str]], n: int) -> Counter[str]:
    """Warn once with the counts of the objects that failed, by reason; return the counts."""
    reasons = Counter(reason for reason, _ in failures.values())
    if reasons:
        counts = ", ".join(f"{k} {reason}" for reason, k in reasons.most_common())
        msg = (
            f"{len(failures)} of {n} objects could not be curated ({counts}); they stay"
            " in the catalog with their reason (see 'galcore export')"
        )
        warnings.warn(msg, CurationWarning, stacklevel=4)
    return reasons


def run_plan(
    plan: CurationPlan, inputs: SurveyInputs, config: CurationConfig, *, began: float
) -> CurationSummary:
    """Cut out the plan's rows, store their statuses and sets, and commit its sink.

    Nothing changes in the workspace unless every step succeeds: on any error the sink is
    aborted. `began` is when the curation started (`time.monotonic`).

    Warns
    -----
    CurationWarning
        Once, with the counts, if objects failed (they stay in the catalog with their reason).
    """
    sink = plan.open_sink()
    counts = dict(plan.counts)
    try:
        failures, missing = cut = _write_images(sink, plan.groups, config)
        counts["from_neighbour"] = _cut_from_neighbours(sink, plan.groups, inputs, config, cut)
        rows = sink.rows
        status, codes = _statuses(failures, missing, rows, plan.status_codes)
        sink.set_status(status, {row: message for row, (_, message) in failures.items()}, codes)
        sink.set_column("missing_fraction", missing[rows.start :])
        partial = np.asarray(codes)[status] == "partial"
        counts["partial"] = int(partial.sum())
        sets = plan.sets(status == 0, partial)
        sink.set_column("sets", sets)
        plan.finish(counts)
        path = sink.commit()
    except BaseException:
        sink.abort()
        raise
    reasons = _warn_failures(failures, len(status))
    return CurationSummary(
        path=path,
        **counts,
        failures=dict(reasons),
        sets={name: int(set_mask(sets, name).sum()) for name in SETS},
        seconds=time.monotonic() - began,
        rows=rows,
        n_known=plan.n_known,
    )

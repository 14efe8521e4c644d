"""Classify prepared files with a run's model, and write the predictions table."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from galcore.classify._prepare import Preparation, PreparedImage
from galcore.errors import CurationError, TrainingError, UnreadableFileError
from galcore.inference import load_run_model
from galcore.training import resize_images
from store import LABELS, Workspace

if TYPE_CHECKING:
    import keras

__all__ = ["COLUMNS", "Classification", "classify_files", "write_classifications"]

logger = logging.getLogger(__name__)

COLUMNS = ("file", "status", "reason", *(f"p_{label}" for label in LABELS), "predicted", "note")
"""Columns of the predictions table, one row per file."""


@dataclass(frozen=True)
class Classification:
    """What became of one file.

    Attributes
    ----------
    file
        The file, as given.
    status
        ``"ok"``, or why it could not be classified (see `galcore.classify`).
    reason
        One line saying what is wrong with the file; empty when ok.
    probs
        Class probabilities in the order of `store.LABELS`; empty when not ok.
    note
        What its preparation had to assume, where it differs from the catalog's images.
    """

    file: Path
    status: str
    reason: str = ""
    probs: tuple[float, ...] = ()
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether the file was classified."""
        return self.status == "ok"

    @property
    def label(self) -> str:
        """The most probable class, or ``""`` when not classified."""
        return LABELS[int(np.argmax(self.probs))] if self.ok else ""

    def row(self) -> list[str]:
        """Return the file's row of the predictions table (`COLUMNS`)."""
        probs = [f"{p:.6g}" for p in self.probs] or [""] * len(LABELS)
        return [str(self.file), self.status, self.reason, *probs, self.label, self.note]


def classify_files(
    workspace: Workspace | Path | str,
    run: str,
    files: Iterable[Path | str],
    *,
    batch_size: int = 64,
) -> list[Classification]:
    """Classify image files with a run's model, preparing them as the catalog's images.

    A file that cannot be read or prepared gets a row with its status and reason; the others
    are classified all the same. The model is never augmented.

    Parameters
    ----------
    workspace
        The workspace (or its folder) holding the catalog and the run's model.
    run
        A trained run.
    files
        FITS, PNG and JPEG files.
    batch_size
        Files prepared and classified at a time.

    Returns
    -------
    list of Classification
        One per file, in the order given.

    Raises
    ------
    TrainingError
        If `batch_size` is not positive or the run has no model.
    StoreNotFoundError
        If there is no catalog or no run of that name.

    Examples
    --------
    >>> rows = classify_files("ws", "r1", ["ngc1300.fits", "m87.png"])  # doctest: +SKIP
    >>> [(row.status, row.label) for row in rows]  # doctest: +SKIP
    [('ok', 'spiral'), ('ok', 'elliptical')]
    """
    if batch_size < 1:
        msg = f"batch_size={batch_size} must be at least 1"
        raise TrainingError(msg)
    workspace = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace))
    catalog = workspace.catalog(mode="r")
    catalog.run(run)
    model = load_run_model(workspace, run)
    preparation = Preparation.from_catalog(catalog)
    paths = [Path(file) for file in files]
    results: list[Classification] = []
    for start in range(0, len(paths), batch_size):
        results += _classify_batch(model, preparation, paths[start : start + batch_size])
        logger.info("classified %d of %d files", len(results), len(paths))
    n_ok = sum(result.ok for result in results)
    logger.info("%d files: %d ok, %d failed", len(results), n_ok, len(results) - n_ok)
    return results


def _classify_batch(
    model: keras.Model, preparation: Preparation, paths: Sequence[Path]
) -> list[Classification]:
    """Prepare and classify some files; those that cannot be prepared keep their reason."""
    prepared = [_prepare(preparation, path) for path in paths]
    images = [p.image for p in prepared if isinstance(p, PreparedImage)]
    probs = iter(_predict(model, images) if images else ())
    return [
        Classification(path, "ok", probs=tuple(map(float, next(probs))), note="; ".join(p.caveats))
        if isinstance(p, PreparedImage)
        else p
        for path, p in zip(paths, prepared, strict=True)
    ]


def _predict(model: keras.Model, images: list[np.ndarray]) -> np.ndarray:
    """Return the class probabilities of uint8 images, each resized as `galcore predict` does."""
    size = model.input_shape[1]
    inputs = np.concatenate([np.asarray(resize_images(image[None], size)) for image in images])
    return model.predict(inputs, batch_size=len(inputs), verbose=0)


def _prepare(preparation: Preparation, path: Path) -> PreparedImage | Classification:
    """Prepare one file, or say why it cannot be."""
    try:
        return preparation.prepare(path)
    except CurationError as error:
        rejected = error
    except ValueError as error:  # malformed content the readers did not anticipate
        rejected = UnreadableFileError(f"{path}: {error}")
    reason = " ".join(str(rejected).split())
    logger.warning("%s: %s", rejected.reason, reason)
    return Classification(path, rejected.reason, reason)


def write_classifications(classifications: Iterable[Classification], out: Path) -> int:
    """Write the predictions table (`COLUMNS`) as CSV, atomically; return the number of rows.

    Parameters
    ----------
    classifications
        One per file.
    out
        The CSV file; it appears only once complete (written aside, then renamed).

    Returns
    -------
    int
        Rows written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with partial.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(COLUMNS)
            rows = [result.row() for result in classifications]
            writer.writerows(rows)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    logger.info("wrote %d rows to %s", len(rows), out)
    return len(rows)

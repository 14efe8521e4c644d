"""Progress of long work as structured records: one JSON line per report, in a job's file.

A job's runner names the file and the running step in the environment of each step
(`PROGRESS_FILE_VARIABLE`, `PROGRESS_STEP_VARIABLE`); the training schedule and inference call
`report_progress`, which does nothing outside a job. Readers (the workbench) take the latest
record of the running step; they never read log wording.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from store.schema import utc_now

__all__ = [
    "PROGRESS_FILE_VARIABLE",
    "PROGRESS_STEP_VARIABLE",
    "ProgressRecord",
    "latest_progress",
    "read_progress",
    "report_progress",
    "write_progress",
]

logger = logging.getLogger(__name__)

PROGRESS_FILE_VARIABLE = "GALCORE_PROGRESS_FILE"
"""The environment variable naming the JSON-lines file that progress records are appended to."""
PROGRESS_STEP_VARIABLE = "GALCORE_PROGRESS_STEP"
"""The environment variable naming the job's running step (e.g. ``"recurse"``)."""
_TAIL_BYTES = 65536


@dataclass(frozen=True)
class ProgressRecord:
    """How far a step of a job is, at one moment."""

    step: str
    """The step's name, e.g. ``"recurse"`` or ``"predict"``."""
    fraction: float
    """Fraction of the step done, 0 to 1."""
    message: str
    """What is being done, e.g. ``"stage 2/3 epoch 1/4"``."""
    time: str
    """When (UTC, ISO 8601)."""


def report_progress(fraction: float, message: str) -> None:
    """Append a progress record for the running step of a job; nothing outside a job.

    Parameters
    ----------
    fraction
        Fraction of the step done, clipped to 0 to 1.
    message
        What is being done, in a few words.
    """
    path = os.environ.get(PROGRESS_FILE_VARIABLE)
    if path:
        write_progress(Path(path), os.environ.get(PROGRESS_STEP_VARIABLE, ""), fraction, message)


def write_progress(path: Path, step: str, fraction: float, message: str) -> None:
    """Append a progress record of `step` to the progress file `path` (a warning if it cannot)."""
    record = ProgressRecord(step, min(max(float(fraction), 0.0), 1.0), message, utc_now())
    line = (json.dumps(asdict(record)) + "\n").encode()
    try:  # one write of one short line to a file opened for appending: never interleaved
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as error:  # progress is never worth failing the work for
        logger.warning("cannot write progress to %s: %s", path, error)


def read_progress(path: Path) -> list[ProgressRecord]:
    """Return the records of a progress file (of its last 64 KiB), oldest first.

    Lines that are not whole records (one torn by a crash) are skipped; a missing file has none.
    """
    try:
        with Path(path).open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - _TAIL_BYTES))
            text = file.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(ProgressRecord(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return records


def latest_progress(path: Path, step: str) -> ProgressRecord | None:
    """Return the latest record of `step` in a progress file, or None."""
    return next((r for r in reversed(read_progress(path)) if r.step == step), None)

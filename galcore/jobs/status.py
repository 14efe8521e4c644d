"""How far a job is and why it failed: read from its progress records and its log."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from galcore.jobs.progress import latest_progress
from galcore.jobs.records import STEPS, Job, JobState

__all__ = ["STEP_HEADER", "JobProgress", "error_line", "job_progress", "log_tail"]

STEP_HEADER = "$ galcore "
"""Start of the line the runner writes into the log before each step's output."""
_ERROR_LINE = re.compile(r"^(ERROR: .*|[\w.]*(Error|Exception|Interrupt)\b.*)$")
_TAIL_BYTES = 65536


@dataclass(frozen=True)
class JobProgress:
    """How far a job is: the running step and, where its progress records say, how far that is."""

    step: int
    """Index of the running step in `STEPS`."""
    fraction: float
    """Fraction of the whole job done, 0 to 1."""
    detail: str
    """The step's latest progress message (e.g. ``"stage 2/3 epoch 1/4"``), or empty."""


def job_progress(job: Job) -> JobProgress:
    """Return how far a job is, from the latest progress record of its running step."""
    if job.state == JobState.DONE:
        return JobProgress(len(STEPS) - 1, 1.0, "")
    record = latest_progress(Path(job.progress), STEPS[job.step]) if job.progress else None
    done = record.fraction if record is not None else 0.0
    detail = record.message if record is not None else ""
    return JobProgress(job.step, (job.step + done) / len(STEPS), detail)


def _read_tail(path: Path, size: int = _TAIL_BYTES) -> str:
    """Return the last `size` bytes of a file as text ("" if it is missing)."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - size))
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def log_tail(job: Job, lines: int = 40) -> str:
    """Return the last `lines` lines of a job's log."""
    return "\n".join(_read_tail(Path(job.log)).splitlines()[-lines:])


def error_line(job: Job, code: int) -> str:
    """Return why the job's running step failed: its last error line, else how it ended.

    Parameters
    ----------
    job
        The job; its log holds each step's output after a `STEP_HEADER` line.
    code
        The step's exit status (negative: killed by that signal).
    """
    output = _read_tail(Path(job.log)).rpartition(STEP_HEADER)[2]
    lines = (line.strip() for line in output.splitlines())
    if errors := [line for line in lines if _ERROR_LINE.match(line)]:
        return errors[-1]
    how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    return f"galcore {STEPS[job.step]} {how}"

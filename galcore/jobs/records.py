"""Retraining jobs as recorded in a workspace: ``WS/jobs/<run>.json``, its log and progress.

Records are written durably (the file and its folder are synced before and after the rename),
and a record that still cannot be read (an empty file after a power loss) is listed as an
``unreadable`` job instead of breaking every reader.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from galcore.errors import GalcoreError
from store import Workspace

__all__ = [
    "STEPS",
    "Job",
    "JobError",
    "JobRunningError",
    "JobState",
    "jobs_dir",
    "read_jobs",
    "record_path",
    "write_json_durably",
]

STEPS = ("recurse", "predict", "embed", "evaluate")
"""The ``galcore`` commands of a job, in order."""


class JobError(GalcoreError, ValueError):
    """A job that cannot be started: a bad run name or ``top``, or another job running."""


class JobRunningError(JobError):
    """Another job holds the workspace's lock."""


class JobState(StrEnum):
    """Where a job stands."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNREADABLE = "unreadable"
    """Its record cannot be read (e.g. emptied by a power loss): nothing is known of it."""


@dataclass(frozen=True)
class Job:
    """One retraining job, as recorded in ``WS/jobs/<run>.json``."""

    run: str
    """The new run's name."""
    parent: str
    """The run it retrains from."""
    top: int
    """Confident predictions per class added (0: only people's decisions)."""
    commands: tuple[tuple[str, ...], ...]
    """The argv of each step, one per name in `STEPS`."""
    log: str
    """The log file: the output of every command."""
    started: str
    """When the job started (UTC, ISO 8601)."""
    state: str = JobState.RUNNING.value
    """A `JobState` value."""
    step: int = 0
    """Index in `STEPS` of the running step (of the failed one after a failure)."""
    error: str = ""
    """Why the job failed: the last error line of the failed command."""
    finished: str = ""
    """When the job ended; empty while it runs."""
    progress: str = ""
    """The JSON-lines file of the steps' `galcore.jobs.progress` records."""
    pgid: int = 0
    """Process group of the running step (0: none), killed with a runner that died."""

    @classmethod
    def read(cls, path: Path) -> Job:
        """Return the job recorded in `path`.

        Raises
        ------
        OSError, ValueError, TypeError, KeyError
            If the record cannot be read or is not a job's.
        """
        values = json.loads(path.read_text())
        values["commands"] = tuple(tuple(command) for command in values["commands"])
        return cls(**values)

    @classmethod
    def unreadable(cls, path: Path, error: Exception) -> Job:
        """Return the stand-in of a record that cannot be read, dated by its file."""
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
        reason = f"{type(error).__name__}: {error}"
        message = (
            f"the job record {path} cannot be read ({reason}); its job's state is unknown:"
            " remove the file once no job is running"
        )
        log = path.with_suffix(".log")
        return cls(path.stem, "", 0, (), str(log), modified, JobState.UNREADABLE.value, 0, message)

    def write(self, path: Path) -> None:
        """Record the job in `path` atomically and durably."""
        write_json_durably(path, dataclasses.asdict(self))


def write_json_durably(path: Path, values: dict) -> None:
    """Write JSON through a synced temporary file renamed over `path`, then sync the folder.

    Readers never see half of it, and after a power loss the file holds the old or the new
    values, never nothing.
    """
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with partial.open("w") as file:
        json.dump(values, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def jobs_dir(workspace: Workspace) -> Path:
    """Return the folder of the workspace's job records, logs and progress files."""
    return workspace.root / "jobs"


def record_path(workspace: Workspace, run: str) -> Path:
    """Return the record file of the job of run `run`."""
    return jobs_dir(workspace) / f"{run}.json"


def read_jobs(workspace: Workspace) -> list[tuple[Path, Job]]:
    """Return every recorded job with its record file; unreadable ones as `Job.unreadable`."""
    jobs = []
    for path in sorted(jobs_dir(workspace).glob("*.json")):
        try:
            job = Job.read(path)
        except FileNotFoundError:  # removed meanwhile
            continue
        except (OSError, ValueError, TypeError, KeyError) as error:
            job = Job.unreadable(path, error)
        jobs.append((path, job))
    return jobs

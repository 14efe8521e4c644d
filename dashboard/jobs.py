"""The workbench's retraining jobs: start one, read the latest one's state and progress.

The jobs themselves (lock, runner, chain of ``galcore`` commands, progress records) are the
backend's, `galcore.jobs`; this module is what the Retrain tab uses of it. No TensorFlow here.
"""

from __future__ import annotations

from galcore.jobs import (
    STEPS,
    Job,
    JobError,
    JobProgress,
    JobRunningError,
    JobState,
    job_progress,
    job_status,
    log_tail,
    start_job,
)
from store.selection import DEFAULT_TOP

__all__ = [
    "DEFAULT_TOP",
    "STEPS",
    "Job",
    "JobError",
    "JobProgress",
    "JobRunningError",
    "JobState",
    "job_progress",
    "job_status",
    "log_tail",
    "start_job",
]

"""Retraining jobs: ``galcore recurse``, ``predict``, ``embed`` and ``evaluate`` in one chain.

A job runs in the background as ``galcore retrain`` (the runner), which starts the four
``galcore`` commands one after the other, so that the new run can be shown and compared as
soon as the job is done. One job at a time per workspace (`galcore.jobs.lock`); each job is
recorded in ``WS/jobs/<run>.json``, logs its commands' output to ``WS/jobs/<run>.log`` and its
progress, as JSON lines, to ``WS/jobs/<run>.progress.jsonl``. No TensorFlow is imported here.
"""

from __future__ import annotations

from galcore.jobs.environment import clean_environment, is_secret_variable
from galcore.jobs.launch import (
    claim_job,
    job_commands,
    job_status,
    launch_job,
    new_job,
    start_job,
    validate_run_name,
)
from galcore.jobs.lock import LOCK_NAME, JobLock, workspace_guard
from galcore.jobs.progress import ProgressRecord, read_progress, report_progress
from galcore.jobs.records import STEPS, Job, JobError, JobRunningError, JobState
from galcore.jobs.runner import run_job
from galcore.jobs.status import JobProgress, error_line, job_progress, log_tail

__all__ = [
    "LOCK_NAME",
    "STEPS",
    "Job",
    "JobError",
    "JobLock",
    "JobProgress",
    "JobRunningError",
    "JobState",
    "ProgressRecord",
    "claim_job",
    "clean_environment",
    "error_line",
    "is_secret_variable",
    "job_commands",
    "job_progress",
    "job_status",
    "launch_job",
    "log_tail",
    "new_job",
    "read_progress",
    "report_progress",
    "run_job",
    "start_job",
    "validate_run_name",
    "workspace_guard",
]

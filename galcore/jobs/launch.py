"""Start a retraining job and read the workspace's latest one: what a server or a CLI calls.

`start_job` records the job, takes the workspace's job lock and hands it to a runner process,
``galcore retrain ... --lock-fd N``, which keeps it for its whole life. `job_status` clears the
lock of a runner that died and fails its job, killing the process group of the step it ran.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys

from galcore.jobs.environment import clean_environment
from galcore.jobs.lock import JobLock, lock_holder, workspace_guard
from galcore.jobs.records import (
    STEPS,
    Job,
    JobError,
    JobState,
    jobs_dir,
    read_jobs,
    record_path,
)
from store import RUN_NAME_RULE, Workspace, is_run_name
from store.schema import utc_now
from store.selection import DEFAULT_TOP

__all__ = [
    "claim_job",
    "job_commands",
    "job_status",
    "launch_job",
    "new_job",
    "start_job",
    "validate_run_name",
]

_RUNNERS: list[subprocess.Popen] = []
"""Runners started by this process, so that finished ones are reaped, not left as zombies."""


def validate_run_name(workspace: Workspace, name: str) -> str:
    """Return the name of a new run, stripped, if it is a valid name that no run has.

    Raises
    ------
    JobError
        If the name is empty, breaks the run-name rule (`store.runs`) or a run has it.
    """
    name = name.strip()
    if not name:
        msg = "give the new run a name"
        raise JobError(msg)
    if not is_run_name(name):
        msg = f"run name {name!r} is not allowed: use {RUN_NAME_RULE}"
        raise JobError(msg)
    if name in workspace.catalog(mode="r").runs():
        msg = f"run {name!r} exists already: choose another name"
        raise JobError(msg)
    return name


def job_commands(
    workspace: Workspace, parent: str, run: str, top: int
) -> tuple[tuple[str, ...], ...]:
    """Return the argv of each step of a job, one per name in `STEPS`.

    Examples
    --------
    >>> commands = job_commands(Workspace("ws"), "r1", "r2", 10)
    >>> [command[3:6] for command in commands][:2]
    [('recurse', '--workspace', 'ws'), ('predict', '--workspace', 'ws')]
    """
    galcore = (sys.executable, "-m", "galcore.cli.main")
    where = ("--workspace", str(workspace.root))
    new_run = ("--run", run)
    recurse = (*galcore, "recurse", *where, "--from", parent, *new_run, "--top", str(top))
    return (recurse, *((*galcore, step, *where, *new_run) for step in STEPS[1:]))


def new_job(workspace: Workspace, parent: str, run: str, top: int) -> Job:
    """Return the job that retrains `run` from `parent`, checking its name and `top`.

    Raises
    ------
    JobError
        If `run` is not a valid new run name or `top` is negative.
    """
    if top < 0:
        msg = f"the number of confident predictions must be 0 or more, got {top}"
        raise JobError(msg)
    run = validate_run_name(workspace, run)
    folder = jobs_dir(workspace)
    commands = job_commands(workspace, parent, run, top)
    log, progress = folder / f"{run}.log", folder / f"{run}.progress.jsonl"
    return Job(run, parent, top, commands, str(log), utc_now(), progress=str(progress))


def _kill_group(pgid: int) -> None:
    """Kill process group `pgid` (a dead runner's step and its children), if it still exists."""
    if pgid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _settle(workspace: Workspace) -> dict | None:
    """Fail the jobs whose runner is gone, killing their step; return who holds the lock."""
    holder = lock_holder(workspace)
    for path, job in read_jobs(workspace):
        if job.state != JobState.RUNNING:
            continue
        if holder is not None and holder.get("run") in (job.run, ""):
            continue
        _kill_group(job.pgid)
        error = "the job stopped without finishing: its runner process is gone"
        failed = dataclasses.replace(
            job, state=JobState.FAILED.value, error=error, finished=utc_now(), pgid=0
        )
        failed.write(path)
    return holder


def claim_job(workspace: Workspace, job: Job) -> JobLock:
    """Take the workspace's job lock and record `job` as running; call under `workspace_guard`.

    The job's log and progress files start empty.

    Raises
    ------
    JobRunningError
        If another job is running.
    """
    _settle(workspace)
    lock = JobLock.acquire(workspace)
    jobs_dir(workspace).mkdir(exist_ok=True)
    job.write(record_path(workspace, job.run))
    for name in (job.log, job.progress):
        with open(name, "w"):  # noqa: PTH123 (truncates a file of an earlier, failed job)
            pass
    return lock


def launch_job(workspace: Workspace, job: Job) -> Job:
    """Record `job` and start its runner in the background, which holds the job lock.

    Raises
    ------
    JobRunningError
        If another job is running.
    """
    with workspace_guard(workspace):
        lock = claim_job(workspace, job)
        try:
            runner = _spawn_runner(workspace, job, lock)
            lock.describe(
                pid=runner.pid, run=job.run, parent=job.parent, started=job.started, log=job.log
            )
        finally:
            os.close(lock.fd)  # the runner holds it from now on
    _RUNNERS.append(runner)
    return job


def _spawn_runner(workspace: Workspace, job: Job, lock: JobLock) -> subprocess.Popen:
    """Start ``galcore retrain`` for the recorded job, handing it the lock's descriptor."""
    command = [sys.executable, "-m", "galcore.cli.main", "retrain"]
    command += ["--workspace", str(workspace.root), "--run", job.run, "--parent", job.parent]
    command += ["--top", str(job.top), "--lock-fd", str(lock.fd)]
    with open(job.log, "a") as out:  # noqa: PTH123 (appended to, as the steps' output is)
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(lock.fd,),
            start_new_session=True,
            env=clean_environment(os.environ) | {"PYTHONUNBUFFERED": "1"},
        )


def start_job(workspace: Workspace, parent: str, run: str, *, top: int = DEFAULT_TOP) -> Job:
    """Start retraining run `run` from `parent` in the background, unless a job is running.

    Parameters
    ----------
    workspace
        The workspace.
    parent
        The run to retrain from (it needs predictions).
    run
        The new run's name (see `validate_run_name`).
    top
        Confident predictions per class to add; 0 for only people's decisions.

    Returns
    -------
    Job
        The job as recorded when it started.

    Raises
    ------
    JobError
        If `run` or `top` is not valid.
    JobRunningError
        If a job is running in the workspace.
    """
    return launch_job(workspace, new_job(workspace, parent, run, top))


def job_status(workspace: Workspace) -> Job | None:
    """Return the workspace's latest job (None if there was none), clearing a stale lock.

    A job whose runner is gone without recording its end is reported as failed; a record that
    cannot be read as an ``unreadable`` job.
    """
    for runner in list(_RUNNERS):
        if runner.poll() is not None:
            _RUNNERS.remove(runner)
    with workspace_guard(workspace):
        _settle(workspace)
    jobs = [(job.started, path.stat().st_mtime_ns, job) for path, job in read_jobs(workspace)]
    return max(jobs, key=lambda entry: entry[:2], default=(None, None, None))[2]

"""The runner: run a recorded job's steps one after the other, holding the job lock meanwhile.

Each step runs in a process group of its own, recorded in the job, and dies with the runner
(``PR_SET_PDEATHSIG`` on Linux): a runner killed even by SIGKILL leaves no step running, and
whoever clears its lock kills the step's group too. Steps get the runner's environment without
secrets (`clean_environment`) and the progress file of the job.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from galcore.jobs.environment import clean_environment
from galcore.jobs.lock import JobLock
from galcore.jobs.progress import PROGRESS_FILE_VARIABLE, PROGRESS_STEP_VARIABLE, write_progress
from galcore.jobs.records import STEPS, Job, JobState, record_path
from galcore.jobs.status import STEP_HEADER, error_line
from store import Workspace
from store.schema import utc_now

__all__ = ["run_job"]

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> Callable[[], None]:
    """Return the function a step runs before it starts: die when `parent` dies (Linux)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None

    def die_with_parent() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the runner died before the signal was asked for
            os._exit(1)

    return die_with_parent


def _stop(signum: int, _frame: FrameType | None) -> None:
    """End the runner at SIGTERM as if it failed, so the job is recorded and its step killed."""
    raise SystemExit(f"stopped by {signal.Signals(signum).name}")


def _start_step(job: Job, index: int, env: dict[str, str]) -> subprocess.Popen:
    """Start step `index` of the job in its own process group, its output appended to the log."""
    command = job.commands[index]
    with Path(job.log).open("a") as out:
        out.write(f"{STEP_HEADER}{' '.join(command[3:])}\n")
        out.flush()
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env | {PROGRESS_STEP_VARIABLE: STEPS[index]},
            process_group=0,
            preexec_fn=_die_with(os.getpid()),  # noqa: PLW1509 (no threads start steps)
        )


def run_job(workspace: Workspace, run: str, lock: JobLock) -> int:
    """Run the steps of the recorded job of `run`, then release `lock`: the runner's work.

    The job's record follows the running step and ends ``done``, or ``failed`` with the failed
    step's last error line. SIGTERM stops the job (its step is killed, the job fails).

    Returns
    -------
    int
        0 if every step succeeded, 1 otherwise.
    """
    path = record_path(workspace, run)
    job = Job.read(path)
    env = clean_environment(os.environ) | {
        "PYTHONUNBUFFERED": "1",
        PROGRESS_FILE_VARIABLE: job.progress,
    }
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    previous = signal.signal(signal.SIGTERM, _stop)
    step = None
    try:
        for index in range(len(job.commands)):
            step = _start_step(job, index, env)
            job = dataclasses.replace(job, step=index, pgid=step.pid)
            job.write(path)
            write_progress(Path(job.progress), STEPS[index], 0.0, f"galcore {STEPS[index]}")
            if (code := step.wait()) != 0:
                job = dataclasses.replace(
                    job, state=JobState.FAILED.value, error=error_line(job, code)
                )
                break
        else:
            job = dataclasses.replace(job, state=JobState.DONE.value)
    except BaseException as error:
        reason = str(error) if isinstance(error, SystemExit) else f"{type(error).__name__}: {error}"
        job = dataclasses.replace(job, state=JobState.FAILED.value, error=reason)
        raise
    finally:
        if step is not None and step.poll() is None:
            os.killpg(step.pid, signal.SIGKILL)
            step.wait()
        dataclasses.replace(job, finished=utc_now(), pgid=0).write(path)
        lock.release()
        signal.signal(signal.SIGTERM, previous)
    return 0 if job.state == JobState.DONE else 1

"""Retraining jobs: ``galcore recurse``, ``predict``, ``embed`` and ``evaluate`` in one chain.

A job runs in the background as ``python -m dashboard.jobs WS RUN`` (the runner), which starts
the four ``galcore`` commands one after the other, so that the new run can be shown and
compared as soon as the job is done. No Panel and no TensorFlow here.

One job at a time per workspace, across browser sessions and servers: the lock file
``WS/.galcore-job.json`` (pid, run, parent, started, log) exists while the runner's process is
alive; a lock whose process is gone is stale and is cleared. Every change of the lock happens
under an exclusive ``flock`` of the workspace folder. Each job is recorded in
``WS/jobs/<run>.json`` (its commands, the running step, its state and error) and logs the
output of its commands to ``WS/jobs/<run>.log``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from store import Workspace

__all__ = [
    "DEFAULT_TOP",
    "LOCK_NAME",
    "STEPS",
    "Job",
    "JobError",
    "JobProgress",
    "JobRunningError",
    "job_commands",
    "job_progress",
    "job_status",
    "log_tail",
    "main",
    "run_job",
    "start_job",
    "validate_run_name",
]

DEFAULT_TOP = 1000
"""Confident predictions per class that a retraining adds by default."""
LOCK_NAME = ".galcore-job.json"
"""The workspace's job lock file."""
STEPS = ("recurse", "predict", "embed", "evaluate")
"""The ``galcore`` commands of a job, in order."""

_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ERROR_LINE = re.compile(r"^(ERROR: .*|[\w.]*(Error|Exception|Interrupt)\b.*)$")
_PROGRESS = (  # pattern, fraction of the step done
    (
        re.compile(r"stage (\d+)/(\d+) epoch (\d+)/(\d+)"),
        lambda s, n, e, m: (int(s) - 1 + int(e) / int(m)) / int(n),
    ),
    (re.compile(r"predicted (\d+) of (\d+) batches"), lambda b, n: int(b) / int(n)),
)
_STEP_HEADER = "$ galcore "
_TAIL_BYTES = 65536


class JobError(ValueError):
    """A job that cannot be started: a bad run name or ``top``, or another job running."""


class JobRunningError(JobError):
    """Another job holds the workspace's lock."""


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
    state: str = "running"
    """``"running"``, ``"done"`` or ``"failed"``."""
    step: int = 0
    """Index in `STEPS` of the running step (of the failed one after a failure)."""
    error: str = ""
    """Why the job failed: the last error line of the failed command."""
    finished: str = ""
    """When the job ended; empty while it runs."""

    @classmethod
    def read(cls, path: Path) -> Job:
        """Return the job recorded in `path`."""
        values = json.loads(path.read_text())
        values["commands"] = tuple(tuple(command) for command in values["commands"])
        return cls(**values)

    def write(self, path: Path) -> None:
        """Record the job in `path` atomically."""
        _write_json(path, dataclasses.asdict(self))


@dataclass(frozen=True)
class JobProgress:
    """How far a job is: the running step and, where its output says, how far that step is."""

    step: int
    """Index of the running step in `STEPS`."""
    fraction: float
    """Fraction of the whole job done, 0 to 1."""
    detail: str
    """The step's latest progress line (e.g. ``"stage 2/3 epoch 1/4"``), or empty."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, values: dict) -> None:
    """Write JSON through a temporary file, so readers never see half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(values, indent=1))
    partial.replace(path)


def _jobs_dir(workspace: Workspace) -> Path:
    return workspace.root / "jobs"


def _record_path(workspace: Workspace, run: str) -> Path:
    return _jobs_dir(workspace) / f"{run}.json"


@contextmanager
def _guard(workspace: Workspace) -> Iterator[None]:
    """Hold an exclusive lock of the workspace folder while the job lock is read or changed."""
    fd = os.open(workspace.root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


_CHILDREN: dict[int, subprocess.Popen] = {}
"""Runners started by this process, so that finished ones are reaped, not left as zombies."""


def _alive(pid: int) -> bool:
    """Return whether process `pid` is running."""
    if (child := _CHILDREN.get(pid)) is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lock(workspace: Workspace) -> dict | None:
    """Return the lock's contents; None without a lock (an unreadable lock counts as stale)."""
    try:
        return json.loads((workspace.root / LOCK_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": -1, "run": ""}


def _settle(workspace: Workspace) -> dict | None:
    """Clear a stale lock, fail the jobs that stopped without finishing; return the live lock."""
    lock = _read_lock(workspace)
    if lock is not None and not (lock["pid"] > 0 and _alive(lock["pid"])):
        (workspace.root / LOCK_NAME).unlink(missing_ok=True)
        lock = None
    for path in _jobs_dir(workspace).glob("*.json"):
        job = Job.read(path)
        if job.state == "running" and (lock is None or lock["run"] != job.run):
            error = "the job stopped without finishing: its runner process is gone"
            dataclasses.replace(job, state="failed", error=error, finished=_now()).write(path)
    return lock


def validate_run_name(workspace: Workspace, name: str) -> str:
    """Return the name of a new run, stripped, if it is a valid name that no run has.

    Parameters
    ----------
    workspace
        The workspace whose catalog holds the runs.
    name
        The name a person typed.

    Returns
    -------
    str
        The name without surrounding spaces.

    Raises
    ------
    JobError
        If the name is empty, has other characters than letters, digits, ``-`` and ``_`` (or
        starts with ``-`` or ``_``, or is longer than 64), or a run has it.
    """
    name = name.strip()
    if not name:
        msg = "give the new run a name"
        raise JobError(msg)
    if not _RUN_NAME.fullmatch(name):
        msg = (
            f"run name {name!r} is not allowed: use up to 64 letters, digits, '-' and '_',"
            " starting with a letter or digit"
        )
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
    if top < 0:
        msg = f"the number of confident predictions must be 0 or more, got {top}"
        raise JobError(msg)
    with _guard(workspace):
        if (lock := _settle(workspace)) is not None:
            msg = (
                f"a job is running in {workspace.root}: run {lock['run']!r}, started"
                f" {lock['started']} (process {lock['pid']}); wait until it ends"
            )
            raise JobRunningError(msg)
        run = validate_run_name(workspace, run)
        _jobs_dir(workspace).mkdir(exist_ok=True)
        log = _jobs_dir(workspace) / f"{run}.log"
        commands = job_commands(workspace, parent, run, top)
        job = Job(run, parent, top, commands, str(log), _now())
        job.write(_record_path(workspace, run))
        log.write_text("")
        with log.open("a") as out:  # appended to, as the steps' output is
            runner = subprocess.Popen(
                [sys.executable, "-m", "dashboard.jobs", str(workspace.root), run],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _CHILDREN[runner.pid] = runner
        lock = {"pid": runner.pid, "run": run, "parent": parent, "started": job.started}
        _write_json(workspace.root / LOCK_NAME, lock | {"log": str(log)})
    return job


def job_status(workspace: Workspace) -> Job | None:
    """Return the workspace's latest job (None if there was none), clearing a stale lock.

    A job whose runner is gone without recording its end is reported as failed.
    """
    with _guard(workspace):
        _settle(workspace)
    paths = _jobs_dir(workspace).glob("*.json")
    jobs = [(Job.read(path), path.stat().st_mtime_ns) for path in paths]
    newest = max(jobs, key=lambda job: (job[0].started, job[1]), default=None)
    return None if newest is None else newest[0]


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


def _step_output(job: Job) -> str:
    """Return the output of the job's latest step (of its last 64 KiB of log)."""
    return _read_tail(Path(job.log)).rpartition(_STEP_HEADER)[2]


def job_progress(job: Job) -> JobProgress:
    """Return how far a job is, from its step and the latest progress line of its output."""
    if job.state == "done":
        return JobProgress(len(STEPS) - 1, 1.0, "")
    for line in reversed(_step_output(job).splitlines()):
        for pattern, fraction in _PROGRESS:
            if match := pattern.search(line):
                done = min(fraction(*match.groups()), 1.0)
                return JobProgress(job.step, (job.step + done) / len(STEPS), match.group(0))
    return JobProgress(job.step, job.step / len(STEPS), "")


def _error_line(job: Job, code: int) -> str:
    """Return why the job's step failed: its last error line, else how it ended."""
    lines = (line.strip() for line in _step_output(job).splitlines())
    if errors := [line for line in lines if _ERROR_LINE.match(line)]:
        return errors[-1]
    how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    return f"galcore {STEPS[job.step]} {how}"


def run_job(workspace: Workspace, run: str) -> int:
    """Run the steps of a recorded job one after the other: the runner's work.

    Each step's output is appended to the job's log; the job's record follows the running step
    and ends ``done``, or ``failed`` with the failed step's last error line. The lock is
    released at the end.

    Returns
    -------
    int
        0 if every step succeeded, 1 otherwise.
    """
    path = _record_path(workspace, run)
    job = Job.read(path)
    log = Path(job.log)
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        for index, command in enumerate(job.commands):
            job = dataclasses.replace(job, step=index)
            job.write(path)
            with log.open("a") as out:
                out.write(f"{_STEP_HEADER}{' '.join(command[3:])}\n")
                out.flush()
                code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, env=env)
            if code != 0:
                job = dataclasses.replace(job, state="failed", error=_error_line(job, code))
                break
        else:
            job = dataclasses.replace(job, state="done")
    except Exception as error:
        job = dataclasses.replace(job, state="failed", error=f"{type(error).__name__}: {error}")
        raise
    finally:
        dataclasses.replace(job, finished=_now()).write(path)
        with _guard(workspace):
            lock = _read_lock(workspace)
            if lock is not None and lock["pid"] == os.getpid():
                (workspace.root / LOCK_NAME).unlink()
    return 0 if job.state == "done" else 1


def main(argv: list[str] | None = None) -> int:
    """Run a recorded job: ``python -m dashboard.jobs WORKSPACE RUN``."""
    root, run = argv if argv is not None else sys.argv[1:]
    return run_job(Workspace(Path(root)), run)


if __name__ == "__main__":
    sys.exit(main())

"""One job at a time per workspace: an ``flock`` of ``WS/.galcore-job.json`` held by the runner.

The runner holds the lock for its whole life, so the lock is free exactly when no runner lives
(the kernel releases it when the process dies, even by SIGKILL; no process id is trusted). The
file also says who holds it (pid, run, parent, started, log). Every change of the lock file
happens under `workspace_guard`, an exclusive ``flock`` of the workspace folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from galcore.jobs.records import JobRunningError
from store import Workspace

__all__ = ["LOCK_NAME", "JobLock", "lock_holder", "workspace_guard"]

LOCK_NAME = ".galcore-job.json"
"""The workspace's job lock file."""


@contextmanager
def workspace_guard(workspace: Workspace) -> Iterator[None]:
    """Hold an exclusive lock of the workspace folder while the job lock is read or changed."""
    fd = os.open(workspace.root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_holder(path: Path) -> dict[str, Any]:
    """Return who holds the lock, as its file says ({"pid": -1, "run": ""} if it cannot say)."""
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"pid": -1, "run": ""}
    return holder if isinstance(holder, dict) else {"pid": -1, "run": ""}


def lock_holder(workspace: Workspace) -> dict[str, Any] | None:
    """Return who holds the job lock, or None if no runner holds it (a stale file is removed).

    Call it under `workspace_guard`.
    """
    path = workspace.root / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_holder(path)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    return None


class JobLock:
    """The job lock held by this process (a runner, or the server until it hands it on)."""

    def __init__(self, workspace: Workspace, fd: int) -> None:
        self.workspace = workspace
        self.fd = fd

    @classmethod
    def acquire(cls, workspace: Workspace) -> JobLock:
        """Take the workspace's job lock; call it under `workspace_guard`.

        Raises
        ------
        JobRunningError
            If a runner holds it.
        """
        fd = os.open(workspace.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_holder(workspace.root / LOCK_NAME)
            msg = (
                f"a job is running in {workspace.root}: run {holder.get('run')!r}, started"
                f" {holder.get('started')} (process {holder.get('pid')}); wait until it ends"
            )
            raise JobRunningError(msg) from None
        return cls(workspace, fd)

    def describe(self, **holder: Any) -> None:  # noqa: ANN401
        """Write who holds the lock into its file (pid, run, parent, started, log)."""
        data = json.dumps(holder).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)

    def release(self) -> None:
        """Remove the lock file (if it is still this lock's) and let the lock go."""
        with workspace_guard(self.workspace):
            path = self.workspace.root / LOCK_NAME
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_ino == os.fstat(self.fd).st_ino:
                    path.unlink()
            os.close(self.fd)

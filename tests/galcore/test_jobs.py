"""The retraining job backend: records, the runner's lock, its steps' lives, secrets, progress."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import signal
import sys
import time
from pathlib import Path
from unittest import mock

import pytest

from galcore.cli.main import main
from galcore.jobs import (
    LOCK_NAME,
    STEPS,
    Job,
    JobRunningError,
    JobState,
    clean_environment,
    job_progress,
    job_status,
    launch_job,
    log_tail,
    new_job,
    read_progress,
)
from store import Workspace

SECRETS = {
    "PANEL_COOKIE_SECRET": "cookie-s3cret",
    "PANEL_OAUTH_SECRET": "oauth-s3cret",
    "PANEL_OAUTH_KEY": "oauth-k3y",
    "PANEL_OAUTH_ENCRYPTION": "encryption-k3y",
    "PANEL_OAUTH_REDIRECT_URI": "https://example.org/login",
    "BOKEH_SECRET_KEY": "bokeh-k3y",
}


def _fake_job(workspace: Workspace, run: str, *scripts: str) -> Job:
    """A job of `run` whose steps are Python scripts instead of galcore commands."""
    job = new_job(workspace, "r0", run, 0)
    return dataclasses.replace(job, commands=tuple((sys.executable, "-c", s) for s in scripts))


def _wait(workspace: Workspace, timeout: float = 120) -> Job:
    """Return the latest job once it has ended."""
    end = time.monotonic() + timeout
    while (job := job_status(workspace)).state == JobState.RUNNING:
        assert time.monotonic() < end, log_tail(job)
        time.sleep(0.1)
    return job


def _until(condition, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Return whether process `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


class TestRecords:
    def test_an_empty_record_is_an_unreadable_job_and_breaks_nothing(self, toy_workspace):
        """A record renamed without fsync before a power loss is empty."""
        (toy_workspace.root / "jobs").mkdir()
        (toy_workspace.root / "jobs" / "r9.json").write_text("")
        job = job_status(toy_workspace)
        assert (job.run, job.state) == ("r9", "unreadable")
        assert "r9.json cannot be read" in job.error
        launch_job(toy_workspace, _fake_job(toy_workspace, "r3", "pass"))
        assert (_wait(toy_workspace).run, _wait(toy_workspace).state) == ("r3", "done")

    def test_a_record_is_synced_with_its_folder(self, toy_workspace):
        job = new_job(toy_workspace, "r0", "r3", 0)
        (toy_workspace.root / "jobs").mkdir()
        with mock.patch("galcore.jobs.records.os.fsync", wraps=os.fsync) as fsync:
            job.write(toy_workspace.root / "jobs" / "r3.json")
        assert fsync.call_count == 2  # the file before the rename, the folder after it
        assert Job.read(toy_workspace.root / "jobs" / "r3.json") == job


class TestRunnerLife:
    def test_a_killed_runners_step_is_gone_before_a_new_job_starts(self, toy_workspace, tmp_path):
        pid_file = tmp_path / "step.pid"
        slow = (
            "import os, pathlib, time\n"
            f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
            "time.sleep(120)"
        )
        launch_job(toy_workspace, _fake_job(toy_workspace, "slow", slow))
        _until(lambda: pid_file.exists() and pid_file.read_text())
        step = int(pid_file.read_text())
        runner = json.loads((toy_workspace.root / LOCK_NAME).read_text())["pid"]
        with pytest.raises(JobRunningError, match="run 'slow'"):
            launch_job(toy_workspace, _fake_job(toy_workspace, "next", "pass"))

        os.kill(runner, signal.SIGKILL)
        end = time.monotonic() + 30
        while True:
            try:
                launch_job(toy_workspace, _fake_job(toy_workspace, "next", "pass"))
                break
            except JobRunningError:
                assert time.monotonic() < end, "the killed runner's lock was never released"
                time.sleep(0.05)
        _until(lambda: not _running(step), timeout=2)  # killed: a SIGKILL is not synchronous
        assert _wait(toy_workspace).state == "done"
        slow_job = Job.read(toy_workspace.root / "jobs" / "slow.json")
        assert slow_job.state == "failed"
        assert "runner process is gone" in slow_job.error

    def test_sigterm_stops_the_job_and_its_step(self, toy_workspace, tmp_path):
        pid_file = tmp_path / "step.pid"
        slow = (
            "import os, pathlib, time\n"
            f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
            "time.sleep(120)"
        )
        launch_job(toy_workspace, _fake_job(toy_workspace, "slow", slow))
        _until(lambda: pid_file.exists() and pid_file.read_text())
        runner = json.loads((toy_workspace.root / LOCK_NAME).read_text())["pid"]
        os.kill(runner, signal.SIGTERM)
        job = _wait(toy_workspace)
        assert (job.state, job.error) == ("failed", "stopped by SIGTERM")
        assert not _running(int(pid_file.read_text()))
        assert not (toy_workspace.root / LOCK_NAME).exists()

    def test_the_runner_holds_the_lock_for_its_whole_life(self, toy_workspace, tmp_path):
        go = tmp_path / "go"
        wait = (
            f"import pathlib, time\nwhile not pathlib.Path({str(go)!r}).exists(): time.sleep(0.05)"
        )
        launch_job(toy_workspace, _fake_job(toy_workspace, "r3", wait))
        with (toy_workspace.root / LOCK_NAME).open() as lock:
            with pytest.raises(BlockingIOError):
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            go.touch()
            assert _wait(toy_workspace).state == "done"
        # The runner records the end of the job, then lets its lock go.
        _until(lambda: not (toy_workspace.root / LOCK_NAME).exists())

    def test_the_cli_runs_a_job_itself_and_records_why_it_failed(self, toy_workspace, capsys):
        argv = ["retrain", "--workspace", str(toy_workspace.root), "--run", "r3"]
        assert main([*argv, "--parent", "r0", "--top", "0"]) == 1
        job = job_status(toy_workspace)
        assert (job.run, job.state, job.step, job.pgid) == ("r3", "failed", 0, 0)
        assert job.error.startswith("ERROR: no run 'r0'")
        assert not (toy_workspace.root / LOCK_NAME).exists()
        assert "job r3: failed" in capsys.readouterr().out

    def test_the_cli_refuses_while_a_job_runs(self, toy_workspace, capsys):
        (toy_workspace.root / LOCK_NAME).write_text(json.dumps({"run": "r8", "pid": 1}))
        with (toy_workspace.root / LOCK_NAME).open() as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            argv = ["retrain", "--workspace", str(toy_workspace.root), "--run", "r3"]
            assert main([*argv, "--parent", "r0"]) == 1
        assert "ERROR: a job is running" in capsys.readouterr().err
        assert not (toy_workspace.root / "jobs" / "r3.json").exists()


class TestSecrets:
    def test_login_secrets_never_reach_a_step(self, toy_workspace, monkeypatch):
        for name, value in SECRETS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GALCORE_PLAIN", "kept")
        dump = "import json, os\nprint(json.dumps(dict(os.environ)))"
        launch_job(toy_workspace, _fake_job(toy_workspace, "r3", dump))
        job = _wait(toy_workspace)
        assert job.state == "done", log_tail(job)
        log = Path(job.log).read_text()
        (dumped,) = [line for line in log.splitlines() if line.startswith("{")]
        environment = json.loads(dumped)
        assert environment["GALCORE_PLAIN"] == "kept"
        assert not set(SECRETS) & set(environment)
        assert not [value for value in SECRETS.values() if value in log]

    def test_clean_environment(self):
        cleaned = clean_environment(SECRETS | {"PATH": "/bin", "DB_PASSWORD": "x", "HOME": "/h"})
        assert cleaned == {"PATH": "/bin", "HOME": "/h"}


class TestProgress:
    def test_a_steps_records_are_the_jobs_progress(self, toy_workspace, tmp_path):
        go = tmp_path / "go"
        step = (
            "import pathlib, time\nfrom galcore.jobs import report_progress\n"
            "report_progress(0.5, 'half way')\n"
            f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.05)"
        )
        launch_job(toy_workspace, _fake_job(toy_workspace, "r3", step))
        _until(lambda: job_progress(job_status(toy_workspace)).detail == "half way")
        progress = job_progress(job_status(toy_workspace))
        assert (progress.step, progress.fraction) == (0, 0.5 / len(STEPS))
        go.touch()
        job = _wait(toy_workspace)
        records = [(r.step, r.fraction, r.message) for r in read_progress(Path(job.progress))]
        assert records == [("recurse", 0.0, "galcore recurse"), ("recurse", 0.5, "half way")]
        assert job_progress(job).fraction == 1.0

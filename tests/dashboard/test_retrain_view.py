"""Retraining jobs: the lock, the chain of galcore commands as real subprocesses, the view."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dashboard.session import ReviewSession
from dashboard.views import MetricsView, RetrainView, make_job_html, make_log_html
from galcore.evaluation import evaluate_run
from galcore.jobs import (
    LOCK_NAME,
    STEPS,
    Job,
    JobError,
    JobProgress,
    JobRunningError,
    error_line,
    job_commands,
    job_progress,
    job_status,
    log_tail,
    start_job,
    validate_run_name,
)
from galcore.jobs.progress import read_progress, write_progress
from galcore.training import get_profile
from store import Workspace, set_mask
from tests.galcore.test_analysis import _perfect_probs


def _wait(workspace: Workspace, timeout: float = 60) -> Job:
    """Return the latest job once it has ended."""
    end = time.monotonic() + timeout
    while (job := job_status(workspace)).state == "running":
        assert time.monotonic() < end, log_tail(job)
        time.sleep(0.2)
    return job


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _record(workspace: Workspace, run: str = "r9", **values) -> Job:
    (workspace.root / "jobs").mkdir(exist_ok=True)
    log = workspace.root / "jobs" / f"{run}.log"
    log.write_text("")
    progress = workspace.root / "jobs" / f"{run}.progress.jsonl"
    commands = job_commands(workspace, "r1", run, 10)
    job = Job(run, "r1", 10, commands, str(log), "2024-01-01", progress=str(progress))
    job = dataclasses.replace(job, **values)
    job.write(workspace.root / "jobs" / f"{run}.json")
    return job


def _lock(workspace: Workspace, pid: int, run: str = "r9") -> None:
    """Write a lock file naming process `pid`, without holding the lock."""
    lock = {"pid": pid, "run": run, "parent": "r1", "started": "2024-01-01", "log": "x"}
    (workspace.root / LOCK_NAME).write_text(json.dumps(lock))


@pytest.fixture
def held_lock(review_workspace: Workspace):
    """A lock file of job r9 whose lock this test holds, as a live runner does."""
    _record(review_workspace)
    _lock(review_workspace, os.getpid())
    with (review_workspace.root / LOCK_NAME).open() as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        yield review_workspace


@pytest.fixture
def bare_parent(review_workspace: Workspace) -> Workspace:
    """The review workspace with run `bare`: no training set, no predictions."""
    review_workspace.catalog().create_run("bare", parent=None)
    return review_workspace


class TestValidateRunName:
    @pytest.mark.parametrize("name", ["", "   "])
    def test_refuses_an_empty_name(self, review_workspace, name):
        with pytest.raises(JobError, match="give the new run a name"):
            validate_run_name(review_workspace, name)

    @pytest.mark.parametrize(
        "name", ["../r3", "r 3", "<b>r3</b>", "-r3", "_r3", "r3;rm", "r3.x", "é", "r" * 65]
    )
    def test_refuses_unsafe_characters(self, review_workspace, name):
        with pytest.raises(JobError, match="is not allowed"):
            validate_run_name(review_workspace, name)

    def test_refuses_an_existing_run(self, review_workspace):
        with pytest.raises(JobError, match="run 'r2' exists already"):
            validate_run_name(review_workspace, "r2")

    def test_strips_a_new_name(self, review_workspace):
        assert validate_run_name(review_workspace, " r3-top_0 ") == "r3-top_0"

    def test_the_view_says_why_it_cannot_start(self, review_workspace):
        view = RetrainView(session=ReviewSession(workspace=review_workspace), new_run="r1")
        view.start()
        assert view._error.visible
        assert view._error.object == "run 'r1' exists already: choose another name"
        assert job_status(review_workspace) is None

    def test_the_view_shows_a_refused_name_as_text(self, review_workspace):
        name = "<img src=x onerror=alert(1)>"
        view = RetrainView(
            session=ReviewSession(workspace=review_workspace, reviewer="ana"), new_run=name
        )
        view.start()
        assert view._error.object.startswith("run name '&#60;img src=x onerror=alert(1)&#62;' is")
        assert job_status(review_workspace) is None

    def test_start_refuses_a_bad_name_or_top_without_locking(self, review_workspace):
        for run, top in (("r1", 10), ("r3", -1)):
            with pytest.raises(JobError):
                start_job(review_workspace, "r1", run, top=top)
        assert not (review_workspace.root / LOCK_NAME).exists()
        assert job_status(review_workspace) is None


class TestCommands:
    def test_the_chain_of_galcore_commands(self, review_workspace):
        commands = job_commands(review_workspace, "r1", "r3", 0)
        root = str(review_workspace.root)
        assert [command[:3] for command in commands] == [
            (sys.executable, "-m", "galcore.cli.main")
        ] * 4
        assert [command[3:] for command in commands] == [
            ("recurse", "--workspace", root, "--from", "r1", "--run", "r3", "--top", "0"),
            *((step, "--workspace", root, "--run", "r3") for step in STEPS[1:]),
        ]


class TestLock:
    def test_a_stale_lock_is_cleared_and_its_job_failed(self, review_workspace):
        _record(review_workspace)
        _lock(review_workspace, _dead_pid())
        job = job_status(review_workspace)
        assert not (review_workspace.root / LOCK_NAME).exists()
        assert (job.run, job.state) == ("r9", "failed")
        assert "stopped without finishing" in job.error

    def test_an_unreadable_lock_is_stale(self, review_workspace):
        (review_workspace.root / LOCK_NAME).write_text("{not json")
        assert job_status(review_workspace) is None
        assert not (review_workspace.root / LOCK_NAME).exists()

    def test_a_held_lock_refuses_a_start_and_stays(self, held_lock):
        with pytest.raises(JobRunningError, match="run 'r9', started 2024-01-01"):
            start_job(held_lock, "r1", "r3")
        assert job_status(held_lock).state == "running"
        assert (held_lock.root / LOCK_NAME).exists()

    def test_a_lock_nobody_holds_is_stale_even_if_its_pid_lives(self, review_workspace):
        """A pid is reused; only a held flock says that the runner lives."""
        _record(review_workspace)
        _lock(review_workspace, os.getpid())
        job = job_status(review_workspace)
        assert (job.run, job.state) == ("r9", "failed")
        assert not (review_workspace.root / LOCK_NAME).exists()


class TestProgress:
    def test_the_running_steps_latest_record(self, review_workspace):
        job = _record(review_workspace, step=1)
        records = [
            ("recurse", 1.0, "stage 3/3 epoch 4/4"),
            ("predict", 0.5, "predicted 2 of 4 batches"),
            ("predict", 0.75, "predicted 3 of 4 batches"),
        ]
        for step, fraction, message in records:
            write_progress(Path(job.progress), step, fraction, message)
        progress = job_progress(job)
        assert (progress.step, progress.detail) == (1, "predicted 3 of 4 batches")
        assert progress.fraction == pytest.approx((1 + 0.75) / len(STEPS))
        assert job_progress(dataclasses.replace(job, step=2)).fraction == 2 / len(STEPS)

    def test_log_wording_is_not_progress(self, review_workspace):
        job = _record(review_workspace)
        log = "$ galcore recurse ...\n10:00 INFO x: stage 2/3 epoch 1/4: loss 0.5\n"
        (review_workspace.root / "jobs" / "r9.log").write_text(log)
        assert job_progress(job) == JobProgress(0, 0.0, "")


class TestErrorLine:
    @pytest.mark.parametrize(
        ("output", "code", "error"),
        [
            ("ERROR: run 'r1' has no 'probs'\n", 1, "ERROR: run 'r1' has no 'probs'"),
            ("Traceback:\n  raise x\nValueError: boom\n", 1, "ValueError: boom"),
            (
                "10:00 INFO x: predicted 1 of 4 batches\n",
                -9,
                "galcore predict was killed by signal 9",
            ),
            ("", 3, "galcore predict exited with status 3"),
        ],
    )
    def test_the_last_error_line_of_the_failed_step(self, review_workspace, output, code, error):
        job = _record(review_workspace, step=1)
        log = f"$ galcore recurse\nERROR: not this one\n$ galcore predict\n{output}"
        (review_workspace.root / "jobs" / "r9.log").write_text(log)
        assert error_line(job, code) == error


class TestHtml:
    def test_logs_are_escaped(self):
        text = '<script>alert("x")</script> & <b>'
        html = make_log_html(text)
        assert "<script>" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in html

    def test_job_states_are_escaped(self, review_workspace):
        job = _record(review_workspace, state="failed", error="ERROR: <img src=x>")
        html = make_job_html(job)
        assert "<img" not in html
        assert "Failed" in html
        assert "galcore recurse" in html
        assert "ERROR: &lt;img src=x&gt;" in html

    def test_an_unreadable_record_shows_as_such_and_a_job_can_start(self, review_workspace):
        (review_workspace.root / "jobs").mkdir()
        (review_workspace.root / "jobs" / "r9.json").write_text("")  # a power loss
        view = RetrainView(session=ReviewSession(workspace=review_workspace))
        assert "<b>Unreadable</b> job of run r9" in view._status.object
        assert not view._start.disabled

    def test_the_view_escapes_the_log(self, review_workspace):
        _record(review_workspace, state="failed", error="x")
        (review_workspace.root / "jobs" / "r9.log").write_text("<script>bad()</script>\n")
        view = RetrainView(session=ReviewSession(workspace=review_workspace))
        assert view._log.object == make_log_html("<script>bad()</script>")


class TestRealJobs:
    def test_a_second_start_is_refused_while_the_first_runs(self, bare_parent):
        start_job(bare_parent, "bare", "r3", top=0)
        with pytest.raises(JobRunningError, match="run 'r3'"):
            start_job(bare_parent, "r1", "r4")
        assert _wait(bare_parent).run == "r3"
        assert not (bare_parent.root / "jobs" / "r4.json").exists()

    def test_a_failing_job_says_why_releases_the_lock_and_adds_no_run(self, review_workspace):
        runs = review_workspace.catalog().runs()
        session = ReviewSession(workspace=review_workspace, run="r0")  # r0 has no training set
        view = RetrainView(session=session, new_run="r3", top=0)
        view.start()
        job = _wait(review_workspace)
        assert (job.run, job.state, job.step) == ("r3", "failed", 0)
        assert job.error == (
            "ERROR: run 'r0' has no 'train_index' array yet; run the step that writes it"
        )
        assert not (review_workspace.root / LOCK_NAME).exists()
        assert review_workspace.catalog().runs() == runs
        view.refresh()
        assert "<b>Failed</b>" in view._status.object
        assert "has no &#x27;train_index&#x27; array yet" in view._status.object
        assert (view._show.visible, view._start.disabled) == (False, False)
        assert (session.run, session.param.run.objects) == ("r0", ["r0", "r1", "r2"])


@pytest.fixture
def trainable(review_workspace: Workspace) -> Workspace:
    """The review workspace with r1 as a parent that trained with the `test` profile."""
    catalog = review_workspace.catalog()
    parent = catalog.run("r1")
    profile = dataclasses.asdict(get_profile("test"))
    parent.update_attrs(config={"profile": profile, "seed": 0})
    parent.write("probs", _perfect_probs(catalog))
    train = np.flatnonzero(set_mask(catalog.column("sets"), "train") & catalog.ok())
    parent.write("train_index", train)
    parent.write("train_label", catalog.column("label")[train])
    evaluate_run(review_workspace.root, "r1")
    return review_workspace


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_job_trains_predicts_embeds_and_evaluates_a_run_the_view_then_shows(trainable):
    session = ReviewSession(workspace=trainable, run="r1")
    view = RetrainView(session=session, new_run="r3", top=5)
    view.start()
    assert view._start.disabled
    assert view._progress.visible
    end = time.monotonic() + 540
    while view._job.state == "running":
        assert time.monotonic() < end, log_tail(view._job)
        time.sleep(2)
        view.refresh()
    assert view._job.state == "done", view._job.error + "\n" + log_tail(view._job, 80)
    assert not (trainable.root / LOCK_NAME).exists()
    run = trainable.catalog().run("r3")
    assert all(run.has(name) for name in ("probs", "embedding", "features"))
    assert run.attrs["parent"] == "r1"
    assert (run.attrs["top"], run.attrs["n_pseudo"]) == (5, 10)
    assert set(run.attrs["test_metrics"]) == {"hp_test/sdss"}
    log = (trainable.root / "jobs" / "r3.log").read_text()
    assert [line.split()[2] for line in log.splitlines() if line.startswith("$ ")] == list(STEPS)
    records = read_progress(trainable.root / "jobs" / "r3.progress.jsonl")
    assert [r.step for r in records if r.message.startswith("galcore ")] == list(STEPS)
    assert any(r.step == "recurse" and r.message.startswith("stage 1/3 epoch 1/") for r in records)
    assert ("predict", 1.0) in {(r.step, r.fraction) for r in records if " objects, " in r.message}
    assert ("embed", 1.0) in {(r.step, r.fraction) for r in records if " objects, " in r.message}
    assert view._show.visible
    assert view._show.name == "Show run r3"
    view.show_new_run()
    assert session.run == "r3"
    assert not view._show.visible
    (table,) = [pane for pane in MetricsView(session=session)._content() if hasattr(pane, "value")]
    assert table.value["run"].tolist() == ["r3", "r1"]

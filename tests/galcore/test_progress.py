"""Progress records: what the training schedule and inference report to a job's file."""

from __future__ import annotations

import dataclasses

import pytest

from galcore.inference import predict
from galcore.jobs.progress import (
    PROGRESS_FILE_VARIABLE,
    PROGRESS_STEP_VARIABLE,
    latest_progress,
    read_progress,
    report_progress,
)
from galcore.training import get_profile
from galcore.training._schedule import Schedule
from tests.galcore.test_inference import _saved_run
from tests.galcore.test_schedule import _epoch, _model


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    """The progress file of a job's `predict` step, as the runner names it."""
    path = tmp_path / "r3.progress.jsonl"
    monkeypatch.setenv(PROGRESS_FILE_VARIABLE, str(path))
    monkeypatch.setenv(PROGRESS_STEP_VARIABLE, "predict")
    return path


def test_nothing_is_reported_outside_a_job(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_FILE_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    report_progress(0.5, "half")
    assert list(tmp_path.iterdir()) == []


def test_records_are_json_lines_and_a_torn_line_is_skipped(progress_file):
    report_progress(0.25, "a quarter")
    report_progress(7, "clipped")
    with progress_file.open("a") as file:
        file.write('{"step": "predict", "fract')  # a write torn by a crash
    records = read_progress(progress_file)
    assert [(r.step, r.fraction, r.message) for r in records] == [
        ("predict", 0.25, "a quarter"),
        ("predict", 1.0, "clipped"),
    ]
    assert latest_progress(progress_file, "predict").message == "clipped"
    assert latest_progress(progress_file, "embed") is None


def test_the_schedule_reports_each_epoch(progress_file, tmp_path):
    profile = dataclasses.replace(get_profile("test"), epochs=(2, 4, 1))
    schedule = Schedule(profile, tmp_path / "model", learning_rate=0.1, is_main=True)
    model = _model()
    schedule.begin_stage(model)
    _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
    _epoch(schedule, model, 2.0, loss=0.9, val_loss=0.4)
    schedule.end_stage()
    schedule.begin_stage(model)
    _epoch(schedule, model, 3.0, loss=0.8, val_loss=0.3)
    records = read_progress(progress_file)
    assert [r.message for r in records] == [
        "stage 1/3 epoch 1/2",
        "stage 1/3 epoch 2/2",
        "stage 2/3 epoch 1/4",
    ]
    assert records[-1].fraction == pytest.approx((1 + 1 / 4) / 3)


def test_a_worker_that_is_not_rank_0_reports_nothing(progress_file, tmp_path):
    schedule = Schedule(get_profile("test"), tmp_path, learning_rate=0.1, is_main=False)
    model = _model()
    schedule.begin_stage(model)
    _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
    assert read_progress(progress_file) == []


def test_inference_reports_its_blocks(progress_file, toy_workspace):
    _saved_run(toy_workspace)
    predict(toy_workspace, "r1", batch_size=64, block_rows=64)
    records = read_progress(progress_file)
    assert all(r.step == "predict" for r in records)
    usable = int(toy_workspace.catalog().usable().sum())
    assert len(records) == 4  # 200 rows in blocks of 64
    assert [r.fraction for r in records] == sorted(r.fraction for r in records)
    assert records[-1].fraction == 1.0
    assert records[-1].message.startswith(f"{usable} of {usable} objects, ")
    assert "objects/s" in records[0].message
    assert " s left" in records[0].message

"""The run lifecycle's one home: the run-name rule, status values and provenance attributes."""

from __future__ import annotations

import pytest

from galcore.jobs import JobError, validate_run_name
from store import RunNameError, RunStatus, SchemaError, check_run_name, is_run_name

NAMES = ["r1", "r3-top_0", "demo-compact-s0-r1", "R" * 64, "r" * 65, "r3.x", "-r3", "_r", "é", ""]


@pytest.mark.parametrize("name", NAMES)
def test_the_catalog_and_the_workbench_accept_the_same_names(toy_workspace, name):
    try:
        validate_run_name(toy_workspace, name)
        valid = True
    except JobError:
        valid = False
    try:
        toy_workspace.catalog().create_run(name)
        created = True
    except SchemaError:
        created = False
    assert created == valid == is_run_name(name)


def test_a_name_longer_than_64_is_refused_by_the_catalog(toy_workspace):
    with pytest.raises(RunNameError, match="up to 64 letters, digits, '-' and '_'"):
        toy_workspace.catalog().create_run("r" * 65)
    assert toy_workspace.catalog().runs() == []


def test_check_run_name_says_what_the_name_is():
    with pytest.raises(RunNameError, match="^experiment run 'a.b' is not allowed: use up to 64"):
        check_run_name("a.b", what="experiment run")
    assert check_run_name("ok-1") == "ok-1"


def test_status_values_are_the_stored_strings():
    assert [status.value for status in RunStatus] == ["training", "trained", "failed"]
    assert RunStatus.TRAINED == "trained"

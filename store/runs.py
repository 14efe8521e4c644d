"""A run's lifecycle: its name rule, its status values and the provenance it records.

One home for these rules, so the catalog, the training, the experiments and the workbench's
retraining form accept and write the same runs.
"""

from __future__ import annotations

import re
from enum import StrEnum

from store.errors import SchemaError

__all__ = [
    "MAX_RUN_NAME",
    "PROVENANCE_ATTRS",
    "RUN_NAME_RULE",
    "RunNameError",
    "RunStatus",
    "check_run_name",
    "is_run_name",
]

MAX_RUN_NAME = 64
"""The longest run name: it names a folder, a Zarr group and a job's files."""
RUN_NAME_RULE = (
    f"up to {MAX_RUN_NAME} letters, digits, '-' and '_', starting with a letter or digit"
)
"""The run-name rule, in words for messages."""
_RUN_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_RUN_NAME - 1}}}")

PROVENANCE_ATTRS = (
    "config",
    "profile",
    "code_version",
    "parent",
    "ledger_state",
    "n_train",
    "n_val",
    "workers",
)
"""Attributes every trained run records when it starts, so a label can be traced to its source:
its `TrainConfig` (``config``), profile name, code version, parent run, the review-ledger state
its labels include, its training and validation set sizes and its number of workers."""


class RunStatus(StrEnum):
    """A run's ``status`` attribute: where its training stands."""

    TRAINING = "training"
    """Training started and has not ended (or the process was killed: resume it)."""
    TRAINED = "trained"
    """The model is saved; the run can be predicted, embedded and evaluated."""
    FAILED = "failed"
    """Training stopped with an error, recorded in the run's ``error`` attribute."""


class RunNameError(SchemaError):
    """A run name that breaks the run-name rule."""


def is_run_name(name: str) -> bool:
    """Return whether `name` follows the run-name rule.

    Examples
    --------
    >>> is_run_name("r2-top_0"), is_run_name("../r2"), is_run_name("r" * 65)
    (True, False, False)
    """
    return _RUN_NAME.fullmatch(name) is not None


def check_run_name(name: str, *, what: str = "run name") -> str:
    """Return `name` if it follows the run-name rule.

    Parameters
    ----------
    name
        The name to check.
    what
        What the name is, for the message (e.g. ``"experiment run name"``).

    Raises
    ------
    RunNameError
        If it does not, with the rule in the message.
    """
    if not is_run_name(name):
        msg = f"{what} {name!r} is not allowed: use {RUN_NAME_RULE}"
        raise RunNameError(msg)
    return name

"""Dashboard fixtures: the toy workspace plus runs with probabilities and a 3-D embedding."""

from __future__ import annotations

import numpy as np
import pytest

from store import NO_LABEL, Workspace

MISCLASSIFIED_ROWS = (3, 17, 120)
"""Labelled rows whose predicted class the `r1` run gets wrong on purpose."""


def write_run(workspace: Workspace, name: str, *, created: str, embed: bool, seed: int) -> None:
    """Write a run whose probabilities follow the labels (flipped for MISCLASSIFIED_ROWS)."""
    catalog = workspace.catalog()
    rng = np.random.default_rng(seed)
    label = catalog.column("label")
    ok = catalog.ok()
    truth = np.where(label == NO_LABEL, rng.integers(0, 2, len(label)), label)
    truth[list(MISCLASSIFIED_ROWS)] = 1 - truth[list(MISCLASSIFIED_ROWS)]
    p_spiral = np.clip(np.where(truth == 1, 0.9, 0.1) + rng.normal(0, 0.05, len(label)), 0, 1)
    probs = np.stack([1 - p_spiral, p_spiral], axis=1)
    embedding = rng.normal(0, 1, (len(label), 3)) + 6 * truth[:, None] * np.array([1, 0.5, -0.5])
    probs[~ok] = np.nan
    embedding[~ok] = np.nan
    run = catalog.create_run(name, created=created, config={"seed": seed}, parent=None)
    run.write("probs", probs)
    if embed:
        run.write("embedding", embedding)


def add_review_runs(workspace: Workspace) -> Workspace:
    """Write runs r0 and r1 (embedded, r1 newest) and r2 (no embedding yet); return `workspace`."""
    write_run(workspace, "r0", created="2024-01-01T00:00:00+00:00", embed=True, seed=1)
    write_run(workspace, "r1", created="2024-02-01T00:00:00+00:00", embed=True, seed=2)
    write_run(workspace, "r2", created="2024-03-01T00:00:00+00:00", embed=False, seed=3)
    return workspace


@pytest.fixture
def review_workspace(toy_workspace: Workspace) -> Workspace:
    """The toy workspace with runs r0 and r1 (embedded, r1 newest) and r2 (no embedding yet)."""
    return add_review_runs(toy_workspace)

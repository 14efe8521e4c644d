"""`benchmarks/feature_shift.py`: the shift measures on feature sets whose answer is known."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from store import LABELS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "feature_shift.py"
ELLIPTICAL, SPIRAL = LABELS.index("elliptical"), LABELS.index("spiral")


@pytest.fixture(scope="module")
def shift_measures():
    return runpy.run_path(str(SCRIPT))["shift_measures"]


def two_classes(n: int = 400, spread: float = 0.1, seed: int = 0):
    """Features of ellipticals around (2, 0, ...) and spirals around (0, 0, ...): d = 2."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([ELLIPTICAL, SPIRAL], n // 2)
    features = rng.normal(0, spread, (n, 8))
    features[labels == ELLIPTICAL, 0] += 2.0
    return features, labels


def test_spirals_moved_halfway_to_the_ellipticals(shift_measures):
    nominal, labels = two_classes()
    changed = nominal.copy()
    changed[labels == SPIRAL, 0] += 1.0
    changed[labels == ELLIPTICAL, 2] += 1.0  # sideways: as far, yet no nearer the spirals
    m = shift_measures(nominal, changed, labels)
    assert m["spirals"] == pytest.approx(0.5, abs=0.01)
    assert m["ellipticals"] == pytest.approx(0.0, abs=0.01)
    assert m["shift"] == pytest.approx(0.5, abs=0.01)
    assert m["spread"] == pytest.approx(0.1 * np.sqrt(8) / 2, rel=0.15)


def test_ellipticals_moved_towards_spirals_are_negative(shift_measures):
    nominal, labels = two_classes()
    changed = nominal.copy()
    changed[labels == ELLIPTICAL, 0] -= 0.5
    changed[labels == SPIRAL, 1] += 0.5
    m = shift_measures(nominal, changed, labels)
    assert m["ellipticals"] == pytest.approx(-0.25, abs=0.01)
    assert m["spirals"] == pytest.approx(0.0, abs=0.01)
    assert m["shift"] == pytest.approx(0.25, abs=0.01)

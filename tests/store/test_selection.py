"""The rule of what a retraining takes: candidates and the top confident per class."""

from __future__ import annotations

import numpy as np
import pytest

from store import sets_code
from store.selection import pseudo_label_candidates, top_confident

PROBS = np.array(
    [[0.9, 0.1], [0.2, 0.8], [0.9, 0.1], [0.6, 0.4], [np.nan, np.nan], [0.1, 0.9], [0.95, 0.05]]
)


def test_classes_in_blocks_most_confident_first_ties_in_catalog_order():
    rows, classes = top_confident(PROBS, np.isfinite(PROBS).all(axis=1), 2)
    assert rows.tolist() == [6, 0, 5, 1]
    assert classes.tolist() == [0, 0, 1, 1]


def test_min_prob_and_zero_top():
    candidates = np.isfinite(PROBS).all(axis=1)
    assert top_confident(PROBS, candidates, 10, min_prob=0.85)[0].tolist() == [6, 0, 2, 5]
    rows, classes = top_confident(PROBS, candidates, 0)
    assert (rows.size, classes.size) == (0, 0)


def test_negative_top_is_refused():
    with pytest.raises(ValueError, match="top must be >= 0"):
        top_confident(PROBS, np.ones(len(PROBS), dtype=bool), -1)


def test_candidates_are_unlabelled_curated_predicted_untrained_and_unreviewed():
    sets = np.full(len(PROBS), sets_code(["unlabelled"]), dtype=np.uint8)
    sets[3] = sets_code(["train"])
    usable = np.ones(len(PROBS), dtype=bool)
    usable[5] = False
    reviewed = np.zeros(len(PROBS), dtype=bool)
    reviewed[6] = True
    candidates = pseudo_label_candidates(sets, usable, PROBS, trained=[1], reviewed=reviewed)
    assert np.flatnonzero(candidates).tolist() == [0, 2]

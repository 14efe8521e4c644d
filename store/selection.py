"""What a retraining takes from a run's predictions: the confident pseudo-labels.

One home for the rule, so the workbench's confident queue shows exactly the galaxies that the
next run trains on (``galcore recurse``, `galcore.recursion.next_training_set`).
"""

from __future__ import annotations

import numpy as np

from store.schema import LABELS, set_mask

__all__ = ["DEFAULT_TOP", "pseudo_label_candidates", "top_confident"]

DEFAULT_TOP = 1000
"""Confident predictions per class that a retraining adds (the paper's top 1000 per class)."""


def pseudo_label_candidates(
    sets: np.ndarray,
    usable: np.ndarray,
    probs: np.ndarray,
    *,
    trained: np.ndarray,
    reviewed: np.ndarray,
) -> np.ndarray:
    """Return which rows a retraining may give their predicted class as a pseudo-label.

    They are the curated unlabelled objects with a prediction that are not in the parent
    run's training set and that nobody decided about (a decision gives its own label, or
    leaves the object out).

    Parameters
    ----------
    sets
        The catalog's ``sets`` column.
    usable
        The curated rows (`store.Catalog.usable`), a boolean mask.
    probs
        The run's probabilities (N, n_classes), NaN where it predicted nothing.
    trained
        The parent run's training rows (``train_index``), or a boolean mask of them.
    reviewed
        The rows with a decision in effect, as rows or a boolean mask.

    Returns
    -------
    numpy.ndarray
        A boolean mask over the catalog rows.
    """
    candidates = set_mask(sets, "unlabelled") & usable & np.isfinite(probs).all(axis=1)
    candidates[trained] = False
    candidates[reviewed] = False
    return candidates


def top_confident(
    probs: np.ndarray, candidates: np.ndarray, top: int = DEFAULT_TOP, *, min_prob: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return the `top` most confident candidates of each class and their predicted class.

    A candidate's class is its most probable one. The classes come in blocks, in the order of
    `store.LABELS`, each most confident first; equal probabilities keep catalog order.

    Parameters
    ----------
    probs
        Probabilities (N, n_classes), finite at the candidates.
    candidates
        A boolean mask over the N rows (`pseudo_label_candidates`).
    top
        Rows taken per class (0 for none).
    min_prob
        Take only rows whose class probability is at least this.

    Returns
    -------
    rows, classes : numpy.ndarray
        Catalog rows (int64) and their predicted class (int8), in the order above.

    Raises
    ------
    ValueError
        If `top` is negative.

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.9, 0.1]])
    >>> top_confident(probs, np.ones(4, dtype=bool), 2)
    (array([0, 3, 1]), array([0, 0, 1], dtype=int8))
    """
    if top < 0:
        msg = f"top must be >= 0 (confident predictions per class), got {top}"
        raise ValueError(msg)
    predicted = np.nan_to_num(probs, nan=-1.0).argmax(axis=1)
    blocks = []
    for label in range(len(LABELS)):
        rows = np.flatnonzero(candidates & (predicted == label))
        rows = rows[probs[rows, label] >= min_prob]
        blocks.append(rows[np.argsort(-probs[rows, label], kind="stable")[:top]])
    rows = np.concatenate(blocks).astype(np.int64)
    classes = np.repeat(np.arange(len(LABELS), dtype=np.int8), [len(b) for b in blocks])
    return rows, classes

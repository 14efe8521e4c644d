"""Metrics of a run on the test sets: the paper's Table II, ROC curves (Fig. 10) and Fig. 6.

Spiral (label 1) is the positive class. Every metric is stored as JSON with the run, undefined
values (a rate with nothing to divide, an AUC of a one-class set) as ``None``, so that the
dashboard can draw them without TensorFlow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from galcore.errors import TrainingError
from store import Workspace
from store.schema import SURVEYS, set_mask

__all__ = [
    "FRACTIONS",
    "ROC_POINTS",
    "TEST_SETS",
    "classification_metrics",
    "confidence_curve",
    "evaluate_run",
    "format_table",
    "roc_auc",
    "roc_curve",
    "set_label",
]

logger = logging.getLogger(__name__)

TEST_SETS = ("hp_test", "fo_test")
FRACTIONS: tuple[float, ...] = tuple(np.round(np.linspace(0.05, 1.0, 20), 2).tolist())
"""Fractions of the most confident predictions kept in the confidence curve (paper Fig. 6)."""
ROC_POINTS = 200
"""Most points of a stored ROC curve (the AUC is computed on the full curve)."""


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Return the metrics of predictions against labels, ready for JSON.

    Parameters
    ----------
    labels
        True labels, 0 (elliptical) or 1 (spiral), shape (N,).
    probs
        Predicted class probabilities, shape (N, 2).

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``precision``, ``recall``, ``fpr``, ``f1``, ``auc``; ``top50``: the
        same rates on the half of the objects the model is most confident about; ``roc``: at most
        `ROC_POINTS` points ``fpr``, ``tpr``, ``threshold`` from (0, 0) to (1, 1), empty for a
        one-class set; ``confidence_curve``: ``accuracy`` and ``f1`` on the ``fraction`` of the
        most confident objects kept. Undefined values are ``None``.

    Examples
    --------
    >>> m = classification_metrics(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> m["accuracy"], m["f1"], m["auc"], m["top50"]["n"]
    (1.0, 1.0, 1.0, 1)
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    predicted = probs.argmax(axis=1)
    fpr, tpr, threshold = roc_curve(labels, probs[:, 1])
    top = _most_confident(probs, 0.5)
    kept = _thin(fpr + tpr, ROC_POINTS)
    return {
        **_rates(labels, predicted),
        "auc": _area(fpr, tpr),
        "top50": _rates(labels[top], predicted[top]),
        "roc": {
            "fpr": fpr[kept].tolist(),
            "tpr": tpr[kept].tolist(),
            "threshold": threshold[kept].tolist(),
        },
        "confidence_curve": confidence_curve(labels, probs),
    }


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the full ROC curve: false- and true-positive rates and their thresholds.

    Point k counts an object as positive when its score is at least ``threshold[k]``; the first
    point, (0, 0), has a threshold just above the highest score and the last one is (1, 1).
    All three are empty when `labels` hold only one class.

    Examples
    --------
    >>> fpr, tpr, _ = roc_curve(np.array([0, 1, 1]), np.array([0.2, 0.9, 0.6]))
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.0, 1.0], [0.0, 0.5, 1.0, 1.0])
    """
    positive = np.asarray(labels) == 1
    scores = np.asarray(scores, dtype=np.float64)
    if positive.all() or not positive.any():
        return np.empty(0), np.empty(0), np.empty(0)
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # end of each distinct score
    true_positives = np.cumsum(positive)[last]
    false_positives = last + 1 - true_positives
    return (
        np.r_[0.0, false_positives / false_positives[-1]],
        np.r_[0.0, true_positives / true_positives[-1]],
        np.r_[np.nextafter(scores[0], np.inf), scores[last]],
    )


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the area under the ROC curve (NaN for a one-class set).

    It equals the Mann-Whitney statistic: the chance that a random positive scores above a
    random negative, ties counted half.

    Examples
    --------
    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    0.75
    """
    area = _area(*roc_curve(labels, scores)[:2])
    return float("nan") if area is None else area


def confidence_curve(
    labels: np.ndarray, probs: np.ndarray, fractions: tuple[float, ...] = FRACTIONS
) -> dict[str, list[float | None]]:
    """Return accuracy and F1 on the most confident fraction of the objects (paper Fig. 6).

    Examples
    --------
    >>> curve = confidence_curve(np.array([1, 0]), np.array([[0.4, 0.6], [0.9, 0.1]]), (0.5, 1.0))
    >>> curve["accuracy"], curve["f1"]
    ([1.0, 1.0], [None, 1.0])
    """
    labels, probs = np.asarray(labels), np.asarray(probs)
    predicted = probs.argmax(axis=1)
    kept = [_most_confident(probs, fraction) for fraction in fractions]
    rates = [_rates(labels[rows], predicted[rows]) for rows in kept]
    return {
        "fraction": [float(f) for f in fractions],
        "accuracy": [r["accuracy"] for r in rates],
        "f1": [r["f1"] for r in rates],
    }


def evaluate_run(workspace: Path, run: str) -> dict[str, dict[str, Any]]:
    """Compute the metrics of a run on each test set and survey, and record them.

    The metrics go into the run's attributes (``test_metrics``; training records ``metrics``)
    and into ``<workspace>/models/<run>/metrics.json``.

    Parameters
    ----------
    workspace
        The workspace folder.
    run
        A run with ``probs`` (written by ``galcore predict``).

    Returns
    -------
    dict
        ``{"hp_test/sdss": {...}, "hp_test/des": {...}, "fo_test/sdss": ..., "fo_test/des": ...}``,
        each as `classification_metrics` returns it.

    Raises
    ------
    TrainingError
        If no test set has a labelled object with a prediction.
    """
    space = Workspace(workspace)
    catalog = space.catalog()
    probs = catalog.run(run).read("probs")
    columns = catalog.columns(["label", "sets", "survey"])
    scored = np.isfinite(probs).all(axis=1) & (columns["label"] >= 0)
    metrics = {}
    for name in TEST_SETS:
        for code, survey in enumerate(SURVEYS):
            rows = set_mask(columns["sets"], name) & (columns["survey"] == code) & scored
            if rows.any():
                metrics[f"{name}/{survey}"] = classification_metrics(
                    columns["label"][rows], probs[rows]
                )
    if not metrics:
        msg = f"run {run!r}: no labelled test object has a prediction; run 'galcore predict' first"
        raise TrainingError(msg)
    text = json.dumps(metrics, indent=2, allow_nan=False)
    catalog.run(run).update_attrs(test_metrics=metrics)
    out = space.model_dir(run) / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    logger.info("metrics of run %s written to %s", run, out)
    return metrics


def set_label(name: str) -> str:
    """Return the display name of a test set key: ``"fo_test/des"`` -> ``"FO DES"``."""
    return name.replace("hp_test", "HP").replace("fo_test", "FO").replace("/", " ").upper()


_COLUMNS = (  # header, width, format, where in the metrics
    ("n", 7, "d", ("n",)),
    ("accuracy", 10, ".2%", ("accuracy",)),
    ("precision", 11, ".3f", ("precision",)),
    ("recall", 8, ".3f", ("recall",)),
    ("FPR", 7, ".3f", ("fpr",)),
    ("F1", 7, ".3f", ("f1",)),
    ("AUC", 7, ".3f", ("auc",)),
    ("top50 acc", 11, ".2%", ("top50", "accuracy")),
    ("top50 F1", 10, ".3f", ("top50", "f1")),
)


def format_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Return the metrics as a plain-text table, one row per test set and survey.

    The last two columns are the accuracy and F1 on the 50% most confident objects; undefined
    values show as ``-``.
    """
    header = f"{'test set':<14}" + "".join(f"{h:>{w}}" for h, w, _, _ in _COLUMNS)
    lines = [header, "-" * len(header)]
    for name, m in metrics.items():
        cells = []
        for _, width, spec, path in _COLUMNS:
            value = m[path[0]] if len(path) == 1 else m[path[0]][path[1]]
            cells.append(f"{'-' if value is None else format(value, spec):>{width}}")
        lines.append(f"{set_label(name):<14}" + "".join(cells))
    return "\n".join(lines)


def _rates(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Return n, accuracy, precision, recall, FPR and F1 of predicted labels (spiral positive)."""
    positive, said = labels == 1, predicted == 1
    tp, fp = int(np.sum(positive & said)), int(np.sum(~positive & said))
    fn, tn = int(np.sum(positive & ~said)), int(np.sum(~positive & ~said))
    return {
        "n": len(labels),
        "accuracy": _ratio(tp + tn, len(labels)),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "fpr": _ratio(fp, fp + tn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _most_confident(probs: np.ndarray, fraction: float) -> np.ndarray:
    """Return the rows of the ``floor(fraction * N)`` (at least one) most confident objects."""
    n = len(probs)
    keep = max(int(fraction * n + 1e-9), 1) if n else 0
    return np.argsort(-probs.max(axis=1), kind="stable")[:keep]


def _area(fpr: np.ndarray, tpr: np.ndarray) -> float | None:
    """Return the trapezoid area under a curve, or None for an empty one."""
    if len(fpr) == 0:
        return None
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)


def _thin(arc: np.ndarray, points: int) -> np.ndarray:
    """Return at most `points` indices, first and last included, evenly spaced along `arc`.

    `arc` is the non-decreasing fpr + tpr of a ROC curve (its length along the axes), so the
    kept points follow the shape of the curve.
    """
    if len(arc) <= points:
        return np.arange(len(arc))
    targets = np.linspace(arc[0], arc[-1], points - 1)
    return np.union1d(np.searchsorted(arc, targets).clip(0, len(arc) - 1), [len(arc) - 1])

"""Metrics of a run on the test sets: the paper's Table II."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from galcore.errors import TrainingError
from store import Workspace
from store.schema import SURVEYS, set_mask

__all__ = ["TEST_SETS", "classification_metrics", "evaluate_run", "format_table"]

logger = logging.getLogger(__name__)

TEST_SETS = ("hp_test", "fo_test")


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Return accuracy, precision, recall and F1 (spiral positive) and the top-half accuracy.

    ``accuracy_top50`` is the accuracy on the half of the objects the model is most confident
    about (the paper reports the full-overlap tests that way).

    Examples
    --------
    >>> m = classification_metrics(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> m["accuracy"], m["f1"]
    (1.0, 1.0)
    """
    predicted = probs.argmax(axis=1)
    correct = predicted == labels
    true_positive = np.sum((predicted == 1) & (labels == 1))
    precision = true_positive / max(np.sum(predicted == 1), 1)
    recall = true_positive / max(np.sum(labels == 1), 1)
    confidence = probs.max(axis=1)
    top = np.argsort(-confidence, kind="stable")[: max(len(labels) // 2, 1)]
    return {
        "n": int(len(labels)),
        "accuracy": float(correct.mean()) if len(labels) else float("nan"),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(2 * precision * recall / max(precision + recall, 1e-12)),
        "accuracy_top50": float(correct[top].mean()) if len(labels) else float("nan"),
    }


def evaluate_run(workspace: Path, run: str) -> dict[str, dict[str, float]]:
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
        ``{"hp_test/sdss": {...}, "hp_test/des": {...}, "fo_test/sdss": ..., "fo_test/des": ...}``.

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
    catalog.run(run).update_attrs(test_metrics=metrics)
    out = space.model_dir(run) / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2))
    logger.info("metrics of run %s written to %s", run, out)
    return metrics


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    """Return the metrics as a plain-text table, one row per test set and survey."""
    header = "test set            n  accuracy  top 50%  precision  recall     F1"
    lines = [header, "-" * len(header)]
    for name, m in metrics.items():
        label = name.replace("hp_test", "HP").replace("fo_test", "FO").replace("/", " ").upper()
        lines.append(
            f"{label:<14}{m['n']:>7}{m['accuracy']:>10.2%}{m['accuracy_top50']:>9.2%}"
            f"{m['precision']:>11.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}"
        )
    return "\n".join(lines)

"""Inference: a trained run's class probabilities and 1024-d features for every curated object."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import galcore
from galcore.errors import TrainingError
from galcore.jobs.progress import report_progress
from galcore.training import FEATURES_LAYER, MODEL_FILE, prediction_dataset
from store import Workspace

if TYPE_CHECKING:
    import keras

    from store import Catalog

__all__ = ["Predictions", "load_run_model", "predict"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictions:
    """What `predict` wrote into a run: one row per catalog object, NaN where not curated.

    Parameters
    ----------
    run
        The run's name.
    probs
        Class probabilities, float32 (N, ``len(store.LABELS)``).
    features
        Output of the ``features`` layer, float32 (N, 1024).
    """

    run: str
    probs: np.ndarray
    features: np.ndarray

    @property
    def n_predicted(self) -> int:
        """Objects with a prediction (those curated successfully)."""
        return int(np.isfinite(self.probs).all(axis=1).sum())

    @property
    def n_skipped(self) -> int:
        """Objects without a prediction because they failed curation."""
        return len(self.probs) - self.n_predicted


def predict(workspace: Workspace | Path | str, run: str, *, batch_size: int = 64) -> Predictions:
    """Compute a run's probabilities and features for every curated object and store them.

    The images are read chunk by chunk, resized to the model's input when needed and never
    augmented, so predicting twice gives the same numbers. The run's ``probs`` and ``features``
    arrays are written (replaced) in the catalog.

    Parameters
    ----------
    workspace
        The workspace (or its folder) holding the catalog and the run's model.
    run
        A trained run.
    batch_size
        Images per batch.

    Returns
    -------
    Predictions
        The arrays written, NaN in the rows of objects that failed curation.

    Raises
    ------
    TrainingError
        If `batch_size` is not positive, the run has no model or the catalog no curated object.
    StoreNotFoundError
        If the catalog has no run of that name.

    Examples
    --------
    >>> predictions = predict("ws", "r1")  # doctest: +SKIP
    >>> predictions.features.shape  # doctest: +SKIP
    (2000, 1024)
    """
    if batch_size < 1:
        msg = f"batch_size={batch_size} must be at least 1"
        raise TrainingError(msg)
    workspace = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace))
    catalog = workspace.catalog()
    target = catalog.run(run)
    model = load_run_model(workspace, run)
    rows = np.flatnonzero(catalog.usable())
    if not len(rows):
        msg = f"{catalog.path} has no curated object (status ok or partial) to predict"
        raise TrainingError(msg)
    probs, features = _predict_rows(model, catalog, rows, batch_size=batch_size)
    result = Predictions(run, _full(probs, rows, len(catalog)), _full(features, rows, len(catalog)))
    target.write("probs", result.probs)
    target.write("features", result.features)
    target.update_attrs(predicted={"n": len(rows), "code_version": galcore.__version__})
    logger.info("run %r: wrote probs and features of %d objects", run, len(rows))
    return result


def load_run_model(workspace: Workspace, run: str) -> keras.Model:
    """Return the run's saved model (without optimizer).

    Raises
    ------
    TrainingError
        If the run has no saved model: it needs training first.
    """
    import keras

    path = workspace.model_dir(run) / MODEL_FILE
    if not path.is_file():
        msg = f"run {run!r} has no model at {path}; train it first with 'galcore train'"
        raise TrainingError(msg)
    return keras.models.load_model(path, compile=False)


def _predict_rows(
    model: keras.Model, catalog: Catalog, rows: np.ndarray, *, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return probabilities and features of `rows` (sorted), in one pass over their images."""
    import keras

    dataset = prediction_dataset(
        catalog, rows, image_size=model.input_shape[1], batch_size=batch_size
    )
    outputs = keras.Model(model.inputs, [model.output, model.get_layer(FEATURES_LAYER).output])
    batches = math.ceil(len(rows) / batch_size)
    every = max(1, batches // 10)

    def progress(batch: int, _logs: dict[str, float] | None = None) -> None:
        if (batch + 1) % every == 0 or batch + 1 == batches:
            logger.info("predicted %d of %d batches", batch + 1, batches)
            report_progress((batch + 1) / batches, f"predicted {batch + 1} of {batches} batches")

    callback = keras.callbacks.LambdaCallback(on_predict_batch_end=progress)
    probs, features = outputs.predict(dataset, verbose=0, callbacks=[callback])
    return probs, features


def _full(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Return an (n, width) float32 array holding `values` at `rows` and NaN elsewhere."""
    full = np.full((n, values.shape[1]), np.nan, dtype=np.float32)
    full[rows] = values
    return full

"""Inference: a trained run's class probabilities and 1024-d features for every curated object."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import galcore
from galcore.engine import DEFAULT_BLOCK_ROWS, Engine, file_identity, loaded_once, run_tasks
from galcore.errors import TrainingError
from galcore.training import FEATURES_LAYER, FEATURES_WIDTH, MODEL_FILE, prediction_dataset
from store import LABELS, RowBlocks, Workspace

if TYPE_CHECKING:
    import keras

    from store import Catalog

__all__ = ["Predictions", "load_run_model", "predict", "predict_block"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictions:
    """What `predict` wrote into a run: one row per catalog object, NaN where not curated.

    Parameters
    ----------
    workspace
        The workspace holding the run.
    run
        The run's name.
    n_predicted
        Objects with a prediction (those curated successfully).
    n_skipped
        Objects without one because they failed curation.
    """

    workspace: Workspace
    run: str
    n_predicted: int
    n_skipped: int

    @property
    def probs(self) -> np.ndarray:
        """Class probabilities, float32 (N, ``len(store.LABELS)``), read from the store."""
        return self.workspace.catalog(mode="r").run(self.run).read("probs")

    @property
    def features(self) -> np.ndarray:
        """Output of the ``features`` layer, float32 (N, 1024), read from the store."""
        return self.workspace.catalog(mode="r").run(self.run).read("features")


def predict(
    workspace: Workspace | Path | str,
    run: str,
    *,
    batch_size: int = 64,
    engine: Engine | None = None,
    resume: bool = False,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> Predictions:
    """Compute a run's probabilities and features for every curated object and store them.

    The catalog is split into blocks of `block_rows` rows; each task loads the model once
    per process, reads its block's images chunk by chunk (resized to the model's input when
    needed, never augmented) and writes its rows of the run's ``probs`` and ``features``
    arrays itself (`store.RowBlocks`). The arrays replace the run's old ones when every block
    is written; predicting twice gives the same numbers.

    Parameters
    ----------
    workspace
        The workspace (or its folder) holding the catalog and the run's model.
    run
        A trained run.
    batch_size
        Images per batch.
    engine
        The Dask cluster to run the blocks on; None: one after another in this process.
    resume
        Continue a prediction of the same model that stopped, computing only the blocks it
        had not written; otherwise start over.
    block_rows
        Catalog rows per task.

    Returns
    -------
    Predictions
        What was written.

    Raises
    ------
    TrainingError
        If `batch_size` is not positive, the run has no model or the catalog no curated object.
    StoreNotFoundError
        If the catalog has no run of that name.

    Examples
    --------
    >>> predictions = predict("ws", "r1", engine=Engine(workers=2))  # doctest: +SKIP
    >>> predictions.features.shape  # doctest: +SKIP
    (2000, 1024)
    """
    if batch_size < 1:
        msg = f"batch_size={batch_size} must be at least 1"
        raise TrainingError(msg)
    workspace = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace))
    catalog = workspace.catalog()
    target = catalog.run(run)
    model_file = _model_file(workspace, run)
    usable = catalog.usable()
    if not usable.any():
        msg = f"{catalog.path} has no curated object (status ok or partial) to predict"
        raise TrainingError(msg)
    stamp = {"model": file_identity(model_file)[1:], "catalog_id": catalog.catalog_id}
    widths = {"probs": len(LABELS), "features": FEATURES_WIDTH}
    blocks = RowBlocks.open(
        target.path, widths, len(catalog), block_rows, stamp=stamp, resume=resume
    )
    pending = blocks.pending()
    if resume and len(pending) < len(blocks.blocks()):
        logger.info(
            "run %r: resuming, %d of %d blocks left", run, len(pending), len(blocks.blocks())
        )
    tasks = [(workspace.root, run, start, batch_size, blocks) for start, _ in pending]
    total = sum(int(usable[start:stop].sum()) for start, stop in pending)
    run_tasks(engine, predict_block, tasks, what=f"predict {run}", total=total)
    blocks.finish()
    n = int(usable.sum())
    target.update_attrs(predicted={"n": n, "code_version": galcore.__version__})
    logger.info("run %r: wrote probs and features of %d objects", run, n)
    return Predictions(workspace, run, n, len(catalog) - n)


def predict_block(root: Path, run: str, start: int, batch_size: int, blocks: RowBlocks) -> int:
    """Predict one block of catalog rows and write it (a task, in any process).

    Returns
    -------
    int
        Objects predicted in the block.
    """
    workspace = Workspace(root)
    catalog = workspace.catalog(mode="r")
    stop = min(start + blocks.block_rows, blocks.n_rows)
    rows = start + np.flatnonzero(catalog.usable()[start:stop])
    values = {
        name: np.full((stop - start, w), np.nan, np.float32) for name, w in blocks.widths.items()
    }
    if len(rows):
        model = loaded_once(_model_file(workspace, run), _load_model)
        values["probs"][rows - start], values["features"][rows - start] = _predict_rows(
            model, catalog, rows, batch_size=batch_size
        )
    blocks.write(start, values)
    return len(rows)


def load_run_model(workspace: Workspace, run: str) -> keras.Model:
    """Return the run's saved model (without optimizer).

    Raises
    ------
    TrainingError
        If the run has no saved model: it needs training first.
    """
    return _load_model(_model_file(workspace, run))


def _model_file(workspace: Workspace, run: str) -> Path:
    """Return the run's saved model file; raises `TrainingError` if it has none."""
    path = workspace.model_dir(run) / MODEL_FILE
    if not path.is_file():
        msg = f"run {run!r} has no model at {path}; train it first with 'galcore train'"
        raise TrainingError(msg)
    return path


def _load_model(path: Path) -> keras.Model:
    """Load a saved model without its optimizer."""
    import keras

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
    probs, features = outputs.predict(dataset, verbose=0)
    return probs, features

"""A training run's record in the store: refusing or resuming a run, starting it, saving it.

Rank 0 writes the run (attributes, ``train_index``/``train_label``) and the model folder
(``config.json``, then ``model.keras`` and ``history.json``); the status values and the
provenance attributes are `store.runs`'s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import galcore
from galcore.errors import TrainingError
from galcore.training._config import CONFIG_FILE, HISTORY_FILE, TrainConfig, TrainResult
from galcore.training._data import Examples
from galcore.training._horovod import Workers
from store import RunStatus, Workspace
from store.errors import RunExistsError, StoreError
from store.runs import PROVENANCE_ATTRS

if TYPE_CHECKING:
    import keras

    from store import Catalog, Run

__all__ = [
    "check_examples",
    "refuse_existing",
    "resumable_examples",
    "run_attrs",
    "save_run",
    "start_run",
]

logger = logging.getLogger(__name__)


def resumable_examples(
    workspace: Workspace, catalog: Catalog, run: str, workers: Workers
) -> Examples:
    """Return the training rows of an unfinished run, or say why it cannot be resumed."""
    if run not in catalog.runs():
        msg = f"run {run!r} is not in {catalog.path}; there is nothing to resume"
        raise TrainingError(msg)
    attrs = catalog.run(run).attrs
    if attrs.get("status") == RunStatus.TRAINED:
        msg = f"run {run!r} finished training; there is nothing to resume"
        raise TrainingError(msg)
    if attrs.get("workers", 1) != workers.size:
        msg = (
            f"run {run!r} trained on {attrs.get('workers', 1)} worker(s); resume it on as "
            f"many (now {workers.size})"
        )
        raise TrainingError(msg)
    if not workspace.model_dir(run).is_dir():
        msg = f"run {run!r} has no model folder {workspace.model_dir(run)}; cannot resume it"
        raise TrainingError(msg)
    stored = catalog.run(run)
    return Examples(stored.read("train_index"), stored.read("train_label"))


def refuse_existing(workspace: Workspace, catalog: Catalog, run: str) -> None:
    """Raise RunExistsError if the run or its model folder exists."""
    if run in catalog.runs():
        msg = f"run {run!r} exists in {catalog.path}; choose another name with --run"
        raise RunExistsError(msg)
    if workspace.model_dir(run).exists():
        msg = f"model folder {workspace.model_dir(run)} exists; remove it or choose another --run"
        raise RunExistsError(msg)


def check_examples(catalog: Catalog, examples: Examples, name: str, *, workers: int) -> None:
    """Raise TrainingError unless the examples are curated rows of the catalog, one per worker."""
    if len(examples) < workers:
        msg = f"the {name} set has {len(examples)} objects; {workers} worker(s) need one each"
        raise TrainingError(msg)
    outside = (examples.rows < 0) | (examples.rows >= len(catalog))
    if outside.any():
        msg = f"{name} rows must be in [0, {len(catalog)}); got {examples.rows[outside][:5]}"
        raise TrainingError(msg)
    failed = examples.rows[~catalog.usable()[examples.rows]]
    if len(failed):
        msg = f"{len(failed)} {name} rows failed curation (no image), e.g. {failed[:5]}"
        raise TrainingError(msg)


def run_attrs(
    config: TrainConfig,
    provenance: Mapping[str, Any],
    train_set: Examples,
    val_set: Examples,
    *,
    workers: int,
) -> dict[str, Any]:
    """Return the starting attributes: `store.runs.PROVENANCE_ATTRS`, status and `provenance`."""
    recorded = {
        "config": config.to_dict(),
        "profile": config.profile.name,
        "code_version": galcore.__version__,
        "parent": config.parent,
        "ledger_state": config.ledger_state,
        "n_train": len(train_set),
        "n_val": len(val_set),
        "workers": workers,
    }
    attrs = {name: recorded[name] for name in PROVENANCE_ATTRS}
    attrs["status"] = RunStatus.TRAINING.value
    clashes = [
        f"{key}={value!r} (train writes {attrs[key]!r})"
        for key, value in provenance.items()
        if attrs.get(key) is not None and attrs[key] != value
    ]
    if clashes:
        msg = f"provenance must not change what train records: {', '.join(clashes)}"
        raise TrainingError(msg)
    return attrs | dict(provenance)


def start_run(
    workspace: Workspace,
    config: TrainConfig,
    examples: Examples,
    attrs: dict[str, Any],
    workers: Workers,
) -> Run | None:
    """Create the run and its model folder on rank 0; every worker learns whether that worked."""
    run, error = None, None
    if workers.is_main:
        try:
            run = workspace.catalog().create_run(config.run, **attrs)
            run.write("train_index", examples.rows)
            run.write("train_label", examples.labels)
            folder = workspace.model_dir(config.run)
            folder.mkdir(parents=True)
            (folder / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2))
        except Exception as exc:  # noqa: BLE001 (every rank must hear of any failure)
            error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreError) else str(exc)
    error = workers.broadcast(error)
    if error is not None:
        msg = f"run {config.run!r} could not be started: {error}"
        raise TrainingError(msg)
    if workers.is_main:
        logger.info(
            "run %r: %d training and %d validation objects, %d worker(s), profile %s",
            config.run,
            attrs["n_train"],
            attrs["n_val"],
            workers.size,
            config.profile.name,
        )
    return run


def save_run(model: keras.Model, result: TrainResult, run: Run, folder: Path) -> None:
    """Save the model (without optimizer) and history, and mark the run trained."""
    import keras

    clean = keras.models.clone_model(model)
    clean.set_weights(model.get_weights())
    clean.save(result.model_path)
    stages = [
        {"stage": stage, "epochs": epochs, "history": history}
        for stage, (epochs, history) in enumerate(
            zip(result.stage_epochs, result.history, strict=True), start=1
        )
    ]
    (folder / HISTORY_FILE).write_text(json.dumps({"stages": stages}, indent=2))
    run.update_attrs(
        status=RunStatus.TRAINED.value,
        stage_epochs=list(result.stage_epochs),
        metrics={
            "val_loss": result.val_loss,
            "val_accuracy": result.val_accuracy,
            "best_stage": result.best_stage,
            "averaged_epochs": result.averaged_epochs,
        },
        wall_time_s=round(result.wall_time_s, 1),
        weights_sha256=result.weights_sha256,
        workers=result.size,
    )
    logger.info(
        "run %r trained: val_loss %.4f, val_accuracy %.4f, model %s",
        result.run,
        result.val_loss,
        result.val_accuracy,
        result.model_path,
    )

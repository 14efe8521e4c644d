"""The three-stage training schedule: one code path for one process or many Horovod workers."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

import galcore
from galcore.errors import TrainingError
from galcore.training._data import (
    Examples,
    default_examples,
    evaluation_dataset,
    training_dataset,
)
from galcore.training._horovod import Workers, init_workers
from galcore.training._model import build_model, freeze_for_stage, weights_sha256
from galcore.training._profiles import N_STAGES, Profile, get_profile
from store import LABELS, Workspace
from store.errors import RunExistsError, StoreError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from store import Catalog, Run

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "HISTORY_FILE",
    "MODEL_FILE",
    "TrainConfig",
    "TrainResult",
    "train",
]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
"""The trained model (without optimizer) in ``Workspace.model_dir(run)``."""
HISTORY_FILE = "history.json"
"""Per-stage Keras history in ``Workspace.model_dir(run)``."""
CONFIG_FILE = "config.json"
"""The run's `TrainConfig` in ``Workspace.model_dir(run)``."""
CHECKPOINT_FILE = "best.weights.h5"
"""Weights of the best epoch (lowest ``val_loss``) of the latest stage."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; `from_profile` builds one from a named profile.

    Parameters
    ----------
    workspace
        The workspace folder with the catalog.
    run
        Name of the new run.
    profile
        The schedule's values (the profile name is ``profile.name``).
    seed
        Seed of the weights, the data order and the augmentation.
    parent
        The run this one was derived from (recursive training), if any.
    ledger_state
        The review-ledger state whose decisions the training labels include, if any.
    """

    workspace: Path
    run: str
    profile: Profile
    seed: int = 0
    parent: str | None = None
    ledger_state: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "workspace", Path(self.workspace))

    @classmethod
    def from_profile(
        cls,
        workspace: Path | str,
        run: str,
        *,
        profile: str = "demo",
        backbone: str | None = None,
        weights: str | None = None,
        epochs: tuple[int, ...] | None = None,
        seed: int = 0,
        parent: str | None = None,
        ledger_state: int | None = None,
    ) -> TrainConfig:
        """Return the config of a named profile, with some of its values overridden.

        Parameters
        ----------
        workspace
            The workspace folder with the catalog.
        run
            Name of the new run.
        profile
            A key of `PROFILES`: ``"test"``, ``"demo"`` or ``"paper"``.
        backbone, weights, epochs
            Replace the profile's value when given (`weights`: ``"imagenet"``, ``"none"`` or a
            path; `epochs`: one count per stage).
        seed, parent, ledger_state
            As in `TrainConfig`.

        Returns
        -------
        TrainConfig
            The config.

        Raises
        ------
        TrainingError
            If the profile is not known or an override is out of range.
        """
        overrides = {"backbone": backbone, "weights": weights, "epochs": epochs}
        values = replace(
            get_profile(profile), **{k: v for k, v in overrides.items() if v is not None}
        )
        return cls(Path(workspace), run, values, seed, parent, ledger_state)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as JSON-ready values.

        Returns
        -------
        dict
            Plain values (the workspace as a string, the profile as a nested dict).
        """
        values = asdict(self)
        values["workspace"] = str(self.workspace)
        values["profile"]["epochs"] = list(self.profile.epochs)
        return values


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced, identical on every worker.

    Parameters
    ----------
    run
        The run's name.
    model_path
        The saved ``model.keras``.
    stage_epochs
        Epochs each stage ran (early stopping may end a stage before its maximum).
    history
        Keras history (metric -> per-epoch values) of each stage.
    val_loss, val_accuracy
        Validation metrics of the kept weights (the best epoch of the last stage that ran).
    wall_time_s
        Seconds from the start of `train` to the saved model.
    weights_sha256
        Digest of the final weights; every worker computes the same.
    rank, size
        This worker's rank and the number of workers.
    """

    run: str
    model_path: Path
    stage_epochs: tuple[int, ...]
    history: tuple[dict[str, list[float]], ...]
    val_loss: float
    val_accuracy: float
    wall_time_s: float
    weights_sha256: str
    rank: int
    size: int


class _Data(NamedTuple):
    """A worker's training and validation batches and the shared number of steps per epoch."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    steps_per_epoch: int


def train(
    config: TrainConfig,
    *,
    examples: Examples | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train a new run in three unfreezing stages and save it into the workspace.

    Run alone or under ``horovodrun``: every worker trains on its shard, rank 0 writes the run
    (attributes, ``train_index``/``train_label``) and the model folder (``model.keras``,
    ``history.json``, ``config.json``, ``best.weights.h5``). Every worker finally logs
    ``rank R/S weights sha256 <hex>``.

    Parameters
    ----------
    config
        The run's name, workspace and schedule.
    examples : Examples or None
        Training rows and labels; by default the curated, labelled rows of the ``train`` set.
        Validation always uses the ``val`` set.
    provenance
        Extra run attributes, e.g. ``{"parent": ..., "ledger_state": ..., "n_pseudo": ...}``
        from recursive training. A key `train` writes itself may only repeat its value.

    Returns
    -------
    TrainResult
        Epochs, history, validation metrics and the weights' digest.

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog.
    RunExistsError
        If the run (or its model folder) exists already; nothing is done then.
    TrainingError
        If the examples, the weights or the provenance cannot be used (the store is left as it
        was), or, with a message naming the cause, if the run cannot be created.

    Examples
    --------
    >>> config = TrainConfig.from_profile("ws", "r1", profile="test")  # doctest: +SKIP
    >>> train(config).stage_epochs  # doctest: +SKIP
    (1, 1, 1)
    """
    started = time.perf_counter()
    workspace = Workspace(config.workspace)
    catalog = workspace.catalog(mode="r")
    _refuse_existing(workspace, catalog, config.run)
    workers = init_workers()
    train_set = default_examples(catalog, "train") if examples is None else examples
    val_set = default_examples(catalog, "val")
    _check_examples(catalog, train_set, "training", workers=workers.size)
    _check_examples(catalog, val_set, "validation", workers=workers.size)
    attrs = _run_attrs(config, provenance or {}, train_set, val_set)
    model = _build(config.profile, seed=config.seed + workers.rank)
    run = _start_run(workspace, config, train_set, attrs, workers)
    try:
        history = _fit(model, catalog, config, train_set, val_set, workers)
        result = _result(config, model, history, workers, started)
        if run is not None:
            _save(model, result, run, workspace.model_dir(config.run))
    except BaseException as error:
        if run is not None:
            run.update_attrs(status="failed", error=f"{type(error).__name__}: {error}")
        raise
    logger.info("rank %d/%d weights sha256 %s", workers.rank, workers.size, result.weights_sha256)
    return result


def _refuse_existing(workspace: Workspace, catalog: Catalog, run: str) -> None:
    """Raise RunExistsError if the run or its model folder exists."""
    if run in catalog.runs():
        msg = f"run {run!r} exists in {catalog.path}; choose another name with --run"
        raise RunExistsError(msg)
    if workspace.model_dir(run).exists():
        msg = f"model folder {workspace.model_dir(run)} exists; remove it or choose another --run"
        raise RunExistsError(msg)


def _check_examples(catalog: Catalog, examples: Examples, name: str, *, workers: int) -> None:
    """Raise TrainingError unless the examples are curated rows of the catalog, one per worker."""
    if len(examples) < workers:
        msg = f"the {name} set has {len(examples)} objects; {workers} worker(s) need one each"
        raise TrainingError(msg)
    outside = (examples.rows < 0) | (examples.rows >= len(catalog))
    if outside.any():
        msg = f"{name} rows must be in [0, {len(catalog)}); got {examples.rows[outside][:5]}"
        raise TrainingError(msg)
    failed = examples.rows[~catalog.ok()[examples.rows]]
    if len(failed):
        msg = f"{len(failed)} {name} rows failed curation (status not ok), e.g. {failed[:5]}"
        raise TrainingError(msg)


def _run_attrs(
    config: TrainConfig, provenance: Mapping[str, Any], train_set: Examples, val_set: Examples
) -> dict[str, Any]:
    """Return the run's starting attributes, with `provenance` added to them."""
    attrs = {
        "config": config.to_dict(),
        "profile": config.profile.name,
        "code_version": galcore.__version__,
        "status": "training",
        "parent": config.parent,
        "ledger_state": config.ledger_state,
        "n_train": len(train_set),
        "n_val": len(val_set),
    }
    clashes = [
        f"{key}={value!r} (train writes {attrs[key]!r})"
        for key, value in provenance.items()
        if attrs.get(key) is not None and attrs[key] != value
    ]
    if clashes:
        msg = f"provenance must not change what train records: {', '.join(clashes)}"
        raise TrainingError(msg)
    return attrs | dict(provenance)


def _start_run(
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


def _build(profile: Profile, *, seed: int) -> keras.Model:
    """Seed Python, NumPy and TensorFlow, then build the profile's model."""
    import keras

    keras.utils.set_random_seed(seed)
    return build_model(
        len(LABELS),
        profile.image_size,
        backbone=profile.backbone,
        weights=None if profile.weights == "none" else profile.weights,
        dropout_rate=profile.dropout_rate,
    )


def _fit(
    model: keras.Model,
    catalog: Catalog,
    config: TrainConfig,
    train_set: Examples,
    val_set: Examples,
    workers: Workers,
) -> list[dict[str, list[float]]]:
    """Train the model stage by stage; return each stage's history."""
    data = _datasets(catalog, config, train_set, val_set, workers)
    folder = Workspace(config.workspace).model_dir(config.run)
    return [
        _fit_stage(model, stage, data, config.profile, workers, folder)
        for stage in range(1, N_STAGES + 1)
    ]


def _datasets(
    catalog: Catalog, config: TrainConfig, train_set: Examples, val_set: Examples, workers: Workers
) -> _Data:
    """Return this worker's shards as datasets and the steps per epoch of every worker."""
    profile = config.profile
    chunk = catalog.images.chunks[0]
    shard = {"rank": workers.rank, "size": workers.size, "chunk": chunk}
    sizes = {"image_size": profile.image_size, "batch_size": profile.batch_size}
    train_data = training_dataset(
        catalog,
        train_set.shard(**shard),
        augmentation=profile.augmentation,
        seed=config.seed + workers.rank,
        shuffle_buffer=profile.shuffle_buffer,
        preload_bytes=profile.preload_bytes,
        **sizes,
    )
    validation = evaluation_dataset(
        catalog, val_set.shard(**shard), preload_bytes=profile.preload_bytes, **sizes
    )
    steps = math.ceil(len(train_set) / (profile.batch_size * workers.size))
    return _Data(train_data, validation, steps)


def _fit_stage(
    model: keras.Model,
    stage: int,
    data: _Data,
    profile: Profile,
    workers: Workers,
    folder: Path,
) -> dict[str, list[float]]:
    """Train one stage and keep its best weights; return its history (empty for 0 epochs)."""
    import keras

    epochs = profile.epochs[stage - 1]
    if epochs == 0:
        return {}
    freeze_for_stage(model, stage)
    model.compile(
        optimizer=workers.optimizer(profile.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=profile.patience, restore_best_weights=True
    )
    fitted = model.fit(
        data.train,
        epochs=epochs,
        steps_per_epoch=data.steps_per_epoch,
        validation_data=data.validation,
        callbacks=_stage_callbacks(model, stopper, stage, data, profile, workers, folder),
        verbose=0,
    )
    if stopper.best_weights is not None:
        model.set_weights(stopper.best_weights)
    return {name: [float(v) for v in values] for name, values in fitted.history.items()}


def _stage_callbacks(
    model: keras.Model,
    stopper: keras.callbacks.EarlyStopping,
    stage: int,
    data: _Data,
    profile: Profile,
    workers: Workers,
    folder: Path,
) -> list[keras.callbacks.Callback]:
    """Return a stage's callbacks; Horovod's come first, so the rest see averaged numbers."""
    import keras

    horovod = workers.callbacks(
        model,
        learning_rate=profile.learning_rate,
        warmup_epochs=profile.warmup_epochs,
        steps_per_epoch=data.steps_per_epoch,
    )
    reduce_lr = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=profile.reduce_lr_factor, patience=profile.reduce_lr_patience
    )
    main = _main_callbacks(stage, profile.epochs[stage - 1], folder) if workers.is_main else []
    return [*horovod, stopper, reduce_lr, keras.callbacks.TerminateOnNaN(), *main]


def _main_callbacks(stage: int, epochs: int, folder: Path) -> list[keras.callbacks.Callback]:
    """Return rank 0's callbacks: the best-epoch checkpoint and one log line per epoch."""
    import keras

    begun: dict[int, float] = {}

    def begin(epoch: int, _logs: dict[str, float] | None = None) -> None:
        begun[epoch] = time.perf_counter()

    def end(epoch: int, logs: dict[str, float] | None = None) -> None:
        metrics = ", ".join(f"{name} {value:.4g}" for name, value in sorted((logs or {}).items()))
        seconds = time.perf_counter() - begun[epoch]
        logger.info(
            "stage %d/%d epoch %d/%d: %s (%.1f s)",
            stage,
            N_STAGES,
            epoch + 1,
            epochs,
            metrics,
            seconds,
        )

    checkpoint = keras.callbacks.ModelCheckpoint(
        folder / CHECKPOINT_FILE, monitor="val_loss", save_best_only=True, save_weights_only=True
    )
    return [checkpoint, keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)]


def _result(
    config: TrainConfig,
    model: keras.Model,
    history: list[dict[str, list[float]]],
    workers: Workers,
    started: float,
) -> TrainResult:
    """Summarise the stages: epochs run and the metrics of the weights kept."""
    last = [stage for stage in history if stage][-1]
    best = int(np.argmin(last["val_loss"]))
    return TrainResult(
        run=config.run,
        model_path=Workspace(config.workspace).model_dir(config.run) / MODEL_FILE,
        stage_epochs=tuple(len(stage.get("loss", [])) for stage in history),
        history=tuple(history),
        val_loss=last["val_loss"][best],
        val_accuracy=last["val_accuracy"][best],
        wall_time_s=time.perf_counter() - started,
        weights_sha256=weights_sha256(model),
        rank=workers.rank,
        size=workers.size,
    )


def _save(model: keras.Model, result: TrainResult, run: Run, folder: Path) -> None:
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
        status="trained",
        stage_epochs=list(result.stage_epochs),
        metrics={"val_loss": result.val_loss, "val_accuracy": result.val_accuracy},
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

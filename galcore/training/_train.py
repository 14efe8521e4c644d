"""The three-stage training schedule: one code path for one process or many Horovod workers."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

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
from galcore.training._profiles import Profile, get_profile
from galcore.training._schedule import Schedule
from store import LABELS, Workspace
from store.errors import RunExistsError, StoreError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from store import Catalog, Run

__all__ = [
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
        image_size: int | None = None,
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
        backbone, weights, epochs, image_size
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
        overrides = {
            "backbone": backbone,
            "weights": weights,
            "epochs": epochs,
            "image_size": image_size,
        }
        values = replace(
            get_profile(profile), **{k: v for k, v in overrides.items() if v is not None}
        )
        return cls(Path(workspace), run, values, seed, parent, ledger_state)

    @classmethod
    def of_run(cls, workspace: Path | str, run: str) -> TrainConfig:
        """Return the config a run was trained with (from its ``config`` attribute).

        Raises
        ------
        StoreNotFoundError
            If the workspace has no catalog or the catalog no such run.
        """
        values = dict(Workspace(workspace).catalog(mode="r").run(run).attrs["config"])
        values["workspace"] = Path(workspace)
        values["profile"] = Profile.from_dict(values["profile"])
        return cls(**values)

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
        Validation metrics of the best epoch of all stages.
    best_stage
        The stage of that epoch.
    averaged_epochs
        How many of the best epochs' weights the model's are the mean of.
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
    best_stage: int
    averaged_epochs: int
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
    resume: bool = False,
) -> TrainResult:
    """Train a new run in three unfreezing stages and save it into the workspace.

    Run alone or under ``horovodrun``: every worker trains on its shard, rank 0 writes the run
    (attributes, ``train_index``/``train_label``) and the model folder (``model.keras``,
    ``history.json``, ``config.json``; ``state/`` while it trains). The weights kept are those
    of the epoch with the lowest validation loss over all stages, or the mean of the profile's
    ``average_best`` such epochs. Rank 0 saves the schedule
    after every epoch, so that a run that was killed continues with ``resume=True``. Every
    worker finally logs ``rank R/S weights sha256 <hex>``.

    Parameters
    ----------
    config
        The run's name, workspace and schedule (`TrainConfig.of_run` reads a run's own).
    examples : Examples or None
        Training rows and labels; by default the curated, labelled rows of the ``train`` set.
        Validation always uses the ``val`` set. A resumed run trains on its recorded rows.
    provenance
        Extra run attributes, e.g. ``{"parent": ..., "ledger_state": ..., "n_pseudo": ...}``
        from recursive training. A key `train` writes itself may only repeat its value.
    resume
        Continue the unfinished run `config.run` from its last finished epoch (its stage,
        weights, optimiser state and learning rate; from the start if no epoch finished)
        instead of starting a new one.

    Returns
    -------
    TrainResult
        Epochs, history, validation metrics and the weights' digest.

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog.
    RunExistsError
        If the run (or its model folder) exists already and `resume` is False; nothing is done.
    TrainingError
        If the examples, the weights or the provenance cannot be used (the store is left as it
        was), if the run cannot be created or resumed (the message names the cause), or if the
        training loss becomes NaN (the run is then marked failed).

    Examples
    --------
    >>> config = TrainConfig.from_profile("ws", "r1", profile="test")  # doctest: +SKIP
    >>> train(config).stage_epochs  # doctest: +SKIP
    (1, 1, 1)
    """
    started = time.perf_counter()
    workspace = Workspace(config.workspace)
    catalog = workspace.catalog(mode="r")
    workers = init_workers()
    if resume:
        train_set = _resumable_examples(workspace, catalog, config.run, workers)
    else:
        _refuse_existing(workspace, catalog, config.run)
        train_set = default_examples(catalog, "train") if examples is None else examples
    val_set = default_examples(catalog, "val")
    _check_examples(catalog, train_set, "training", workers=workers.size)
    _check_examples(catalog, val_set, "validation", workers=workers.size)
    model = _build(config.profile, seed=config.seed)
    folder = workspace.model_dir(config.run)
    learning_rate = config.profile.learning_rate * workers.size
    schedule_options = {
        "learning_rate": learning_rate,
        "is_main": workers.is_main,
        "warmup_epochs": _warmup_epochs(config.profile, workers),
    }
    if resume:
        schedule = Schedule.load(config.profile, folder, **schedule_options)
        run = workspace.catalog().run(config.run) if workers.is_main else None
        if run is not None:
            run.update_attrs(status="training", error=None)
    else:
        attrs = _run_attrs(config, provenance or {}, train_set, val_set) | {"workers": workers.size}
        run = _start_run(workspace, config, train_set, attrs, workers)
        schedule = Schedule(config.profile, folder, **schedule_options)
    try:
        with _stopped_by_sigterm(schedule):
            _fit(model, catalog, config, train_set, val_set, workers, schedule)
            result = _result(config, model, schedule, workers, started)
            if run is not None:
                _save(model, result, run, folder)
                schedule.clear()
    except BaseException as error:
        if run is not None:
            run.update_attrs(status="failed", error=f"{type(error).__name__}: {error}")
        raise
    logger.info("rank %d/%d weights sha256 %s", workers.rank, workers.size, result.weights_sha256)
    return result


@contextlib.contextmanager
def _stopped_by_sigterm(schedule: Schedule) -> Iterator[None]:
    """Let SIGTERM end the training at the next batch, with a TrainingError.

    A run cancelled, or ended by horovodrun because another worker failed, is then marked
    failed instead of being left as training.
    """

    def stop(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        schedule.request_stop(f"stopped by {name} (cancelled, or another worker failed)")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _warmup_epochs(profile: Profile, workers: Workers) -> int:
    """Epochs of Horovod's learning-rate warm-up: the run's first, with several workers only."""
    if workers.size == 1:
        return 0
    return min(profile.warmup_epochs, profile.epochs[_first_stage(profile) - 1])


def _first_stage(profile: Profile) -> int:
    """Return the first stage with epochs to run."""
    return next(stage for stage, n in enumerate(profile.epochs, start=1) if n > 0)


def _resumable_examples(
    workspace: Workspace, catalog: Catalog, run: str, workers: Workers
) -> Examples:
    """Return the training rows of an unfinished run, or say why it cannot be resumed."""
    if run not in catalog.runs():
        msg = f"run {run!r} is not in {catalog.path}; there is nothing to resume"
        raise TrainingError(msg)
    attrs = catalog.run(run).attrs
    if attrs.get("status") == "trained":
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
    failed = examples.rows[~catalog.usable()[examples.rows]]
    if len(failed):
        msg = f"{len(failed)} {name} rows failed curation (no image), e.g. {failed[:5]}"
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
    """Seed Python, NumPy and TensorFlow, then build the profile's model.

    Every worker passes the same seed, so all start from the same weights; `_fit` broadcasts
    rank 0's weights before the first step all the same.
    """
    import keras

    keras.utils.set_random_seed(seed)
    return build_model(
        len(LABELS),
        profile.image_size,
        backbone=profile.backbone,
        weights=None if profile.weights == "none" else profile.weights,
        dropout_rate=profile.dropout_rate,
        batch_norm=profile.batch_norm,
    )


def _fit(
    model: keras.Model,
    catalog: Catalog,
    config: TrainConfig,
    train_set: Examples,
    val_set: Examples,
    workers: Workers,
    schedule: Schedule,
) -> None:
    """Train the model through the stages the schedule has still to run."""
    data = _datasets(catalog, config, train_set, val_set, workers)
    profile = config.profile
    workers.broadcast_weights(model)
    logger.info(
        "rank %d/%d starts from weights sha256 %s",
        workers.rank,
        workers.size,
        weights_sha256(model),
    )
    while not schedule.done:
        stage = schedule.state.stage
        epochs = profile.epochs[stage - 1]
        if epochs == 0:
            schedule.skip_stage()
            continue
        freeze_for_stage(model, stage)
        model.compile(
            optimizer=workers.optimizer(schedule.state.learning_rate),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        schedule.begin_stage(model)
        horovod = workers.callbacks(
            model,
            learning_rate=profile.learning_rate,
            warmup_epochs=schedule.warmup_epochs if stage == _first_stage(profile) else 0,
            steps_per_epoch=data.steps_per_epoch,
        )
        model.fit(
            data.train,
            initial_epoch=schedule.state.epoch,
            epochs=epochs,
            steps_per_epoch=data.steps_per_epoch,
            validation_data=data.validation,
            callbacks=[*horovod, schedule.callback()],
            verbose=0,
        )
        schedule.end_stage()
    schedule.finish(model)


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


def _result(
    config: TrainConfig,
    model: keras.Model,
    schedule: Schedule,
    workers: Workers,
    started: float,
) -> TrainResult:
    """Summarise the stages: epochs run and the metrics of the best epoch."""
    state = schedule.state
    return TrainResult(
        run=config.run,
        model_path=Workspace(config.workspace).model_dir(config.run) / MODEL_FILE,
        stage_epochs=schedule.stage_epochs,
        history=tuple(state.history),
        val_loss=state.best_val_loss,
        val_accuracy=state.best_val_accuracy,
        best_stage=state.best_stage,
        averaged_epochs=len(state.best_val_losses),
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

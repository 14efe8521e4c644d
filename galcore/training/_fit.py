"""The fit loop: build the model, then train it stage by stage as the `Schedule` says."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, NamedTuple

from galcore.training._config import MODEL_FILE, TrainConfig, TrainResult
from galcore.training._data import Examples, evaluation_dataset, training_dataset
from galcore.training._horovod import Workers
from galcore.training._model import build_model, freeze_for_stage, weights_sha256
from galcore.training._profiles import Profile
from galcore.training._schedule import Schedule
from store import LABELS, Workspace

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from store import Catalog

__all__ = ["build", "fit", "summarise", "warmup_epochs"]

logger = logging.getLogger(__name__)


class _Data(NamedTuple):
    """A worker's training and validation batches and the shared number of steps per epoch."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    steps_per_epoch: int


def warmup_epochs(profile: Profile, workers: Workers) -> int:
    """Epochs of Horovod's learning-rate warm-up: the run's first, with several workers only."""
    if workers.size == 1:
        return 0
    return min(profile.warmup_epochs, profile.epochs[_first_stage(profile) - 1])


def _first_stage(profile: Profile) -> int:
    """Return the first stage with epochs to run."""
    return next(stage for stage, n in enumerate(profile.epochs, start=1) if n > 0)


def build(profile: Profile, *, seed: int) -> keras.Model:
    """Seed Python, NumPy and TensorFlow, then build the profile's model.

    Every worker passes the same seed, so all start from the same weights; `fit` broadcasts
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
        precision=profile.precision,
    )


def fit(
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


def summarise(
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

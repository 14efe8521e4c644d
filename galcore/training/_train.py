"""`train`: one run in three unfreezing stages, alone or as one of many Horovod workers."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from galcore.training._config import TrainConfig, TrainResult
from galcore.training._data import Examples, default_examples
from galcore.training._fit import build, fit, summarise, warmup_epochs
from galcore.training._horovod import init_workers
from galcore.training._run_record import (
    check_examples,
    refuse_existing,
    resumable_examples,
    run_attrs,
    save_run,
    start_run,
)
from galcore.training._schedule import Schedule
from galcore.training._sigterm import stopped_by_sigterm
from store import RunStatus, Workspace

__all__ = ["train"]

logger = logging.getLogger(__name__)


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
        train_set = resumable_examples(workspace, catalog, config.run, workers)
    else:
        refuse_existing(workspace, catalog, config.run)
        train_set = default_examples(catalog, "train") if examples is None else examples
    val_set = default_examples(catalog, "val")
    check_examples(catalog, train_set, "training", workers=workers.size)
    check_examples(catalog, val_set, "validation", workers=workers.size)
    model = build(config.profile, seed=config.seed)
    folder = workspace.model_dir(config.run)
    learning_rate = config.profile.learning_rate * workers.size
    schedule_options = {
        "learning_rate": learning_rate,
        "is_main": workers.is_main,
        "warmup_epochs": warmup_epochs(config.profile, workers),
    }
    if resume:
        schedule = Schedule.load(config.profile, folder, **schedule_options)
        run = workspace.catalog().run(config.run) if workers.is_main else None
        if run is not None:
            run.update_attrs(status=RunStatus.TRAINING.value, error=None)
    else:
        attrs = run_attrs(config, provenance or {}, train_set, val_set, workers=workers.size)
        run = start_run(workspace, config, train_set, attrs, workers)
        schedule = Schedule(config.profile, folder, **schedule_options)
    try:
        with stopped_by_sigterm(schedule):
            fit(model, catalog, config, train_set, val_set, workers, schedule)
            result = summarise(config, model, schedule, workers, started)
            if run is not None:
                save_run(model, result, run, folder)
                schedule.clear()
    except BaseException as error:
        if run is not None:
            run.update_attrs(
                status=RunStatus.FAILED.value, error=f"{type(error).__name__}: {error}"
            )
        raise
    logger.info("rank %d/%d weights sha256 %s", workers.rank, workers.size, result.weights_sha256)
    return result

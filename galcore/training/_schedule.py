"""The schedule across the three stages: best weights, early stopping, learning rate, resuming.

One `Schedule` follows the whole run, so that nothing resets between stages: each stage
starts from the best weights of the run so far (by validation loss), the run ends with the
mean of the weights of its `Profile.average_best` best epochs (the best alone by default), the
learning rate a stage starts with is the one the previous stage ended with, and the learning
rate shrinks when the training loss stops improving (as in the paper). Rank 0 saves the
schedule with the weights and the optimiser after every epoch, so a killed run continues from
its last finished epoch.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from galcore.errors import TrainingError
from galcore.jobs.progress import report_progress
from galcore.training._profiles import N_STAGES, Profile

if TYPE_CHECKING:
    import keras

__all__ = ["STATE_FOLDER", "Schedule", "ScheduleState"]

logger = logging.getLogger(__name__)

STATE_FOLDER = "state"
"""Folder of the model folder holding the schedule, the best epochs' weights and the last
epoch's weights and optimiser (TensorFlow checkpoints), while a run trains."""
_PROGRESS_FILE = "progress.json"
_MIN_DELTA = 1e-4
"""Smallest decrease of a loss that counts as an improvement (Keras's default)."""


@dataclass
class ScheduleState:
    """Where a run stands; saved as JSON after every epoch.

    Parameters
    ----------
    stage
        The stage in progress (``N_STAGES + 1`` once the last has ended).
    epoch
        Epochs finished in that stage.
    learning_rate
        The optimiser's learning rate now (the workers' multiple included).
    best_val_loss, best_val_accuracy, best_stage, best_epoch
        The best epoch of the run so far (stage and epoch from 1).
    stage_best_val_loss, stage_wait
        Early stopping: the stage's best validation loss and epochs since it improved.
    plateau_loss, plateau_wait
        The stage's best training loss and epochs since it improved, for shrinking the
        learning rate (a stage that unfreezes layers starts from a higher loss).
    history
        Per stage, Keras's metric -> values of each epoch (``lr`` included).
    checkpoint
        Name of the last epoch's checkpoint in the state folder.
    best_checkpoints, best_val_losses
        The checkpoints of the run's `Profile.average_best` best epochs so far, best first,
        and their validation losses.
    """

    stage: int = 1
    epoch: int = 0
    learning_rate: float = 0.0
    best_val_loss: float = math.inf
    best_val_accuracy: float = math.nan
    best_stage: int = 0
    best_epoch: int = 0
    stage_best_val_loss: float = math.inf
    stage_wait: int = 0
    plateau_loss: float = math.inf
    plateau_wait: int = 0
    history: list[dict[str, list[float]]] = field(
        default_factory=lambda: [{} for _ in range(N_STAGES)]
    )
    checkpoint: str | None = None
    best_checkpoints: list[str] = field(default_factory=list)
    best_val_losses: list[float] = field(default_factory=list)

    @property
    def run_epoch(self) -> int:
        """Epochs finished in the run: earlier stages' and this one's."""
        return sum(len(stage.get("loss", [])) for stage in self.history)


class Schedule:
    """The run's schedule: one `keras.callbacks.Callback` per stage, state kept across them.

    Parameters
    ----------
    profile
        The run's schedule values.
    folder
        The run's model folder; rank 0 writes the best weights and the state there.
    learning_rate
        Starting learning rate, the workers' multiple included.
    is_main
        Whether this worker writes files and logs epochs.
    warmup_epochs
        The run's first epochs in which Horovod's warm-up sets the learning rate (0: none).
    state
        A saved state to continue from (`load`); a new run starts from scratch.
    """

    def __init__(
        self,
        profile: Profile,
        folder: Path,
        *,
        learning_rate: float,
        is_main: bool,
        warmup_epochs: int = 0,
        state: ScheduleState | None = None,
    ) -> None:
        self.profile = profile
        self.folder = Path(folder)
        self.is_main = is_main
        self.warmup_epochs = warmup_epochs
        self.state = state or ScheduleState(learning_rate=learning_rate)
        self._restore_pending = self.state.checkpoint is not None
        self.model: keras.Model | None = None
        self.best_weights: list[list] = []
        self.stop_reason: str | None = None
        self._epoch_began = 0.0

    @classmethod
    def load(
        cls,
        profile: Profile,
        folder: Path,
        *,
        learning_rate: float,
        is_main: bool,
        warmup_epochs: int = 0,
    ) -> Schedule:
        """Return the schedule an interrupted training saved in `folder`.

        A run stopped before its first epoch ended saved none: it starts again from the
        beginning (at `learning_rate`).
        """
        path = Path(folder) / STATE_FOLDER / _PROGRESS_FILE
        state = ScheduleState(**json.loads(path.read_text())) if path.is_file() else None
        return cls(
            profile,
            folder,
            learning_rate=learning_rate,
            is_main=is_main,
            warmup_epochs=warmup_epochs,
            state=state,
        )

    @property
    def done(self) -> bool:
        """Whether every stage has ended."""
        return self.state.stage > N_STAGES

    def begin_stage(self, model: keras.Model) -> None:
        """Prepare the compiled `model` for the stage in progress, restoring a saved epoch.

        A continued run gets the weights of its last epoch back (and the optimiser's state when
        it stopped inside a stage) and the best weights so far.
        """
        import keras

        self.model = model
        keras.backend.set_value(model.optimizer.learning_rate, self.state.learning_rate)
        self._restore_once(model)

    def callback(self) -> keras.callbacks.Callback:
        """Return the callback that applies the schedule during one stage's ``fit``."""
        import keras

        return keras.callbacks.LambdaCallback(
            on_epoch_begin=self._epoch_begin,
            on_epoch_end=self._epoch_end,
            on_train_batch_end=self._batch_end,
        )

    def request_stop(self, reason: str) -> None:
        """End the training at the next batch; `end_stage` then raises TrainingError(reason).

        Safe to call from a signal handler.
        """
        self.stop_reason = reason

    def end_stage(self) -> None:
        """Give the model the best weights of the run so far and move on to the next stage.

        Raises
        ------
        TrainingError
            If the training was stopped: a NaN loss or `request_stop`.
        """
        if self.stop_reason is not None:
            raise TrainingError(self.stop_reason)
        if self.best_weights:
            self.model.set_weights(self.best_weights[0])
        self.state.stage += 1
        self.state.epoch = 0
        self.state.stage_best_val_loss, self.state.stage_wait = math.inf, 0
        self.state.plateau_loss, self.state.plateau_wait = math.inf, 0
        self._save()

    def finish(self, model: keras.Model) -> None:
        """Give `model` the mean of the weights of the run's best epochs, once every stage ended.

        With ``average_best=1`` that is the best epoch's weights, which `end_stage` has set.
        """
        import numpy as np

        self._restore_once(model)  # a run that was stopped after its last epoch
        if self.best_weights:
            model.set_weights([np.mean(w, axis=0) for w in zip(*self.best_weights, strict=True)])

    def skip_stage(self) -> None:
        """Move past a stage with no epochs."""
        self.state.stage += 1
        self.state.epoch = 0

    @property
    def stage_epochs(self) -> tuple[int, ...]:
        """Epochs each stage ran."""
        return tuple(len(stage.get("loss", [])) for stage in self.state.history)

    def _epoch_begin(self, _epoch: int, _logs: dict[str, float] | None = None) -> None:
        self._epoch_began = time.perf_counter()

    def _batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss) and self.stop_reason is None:
            where = f"stage {self.state.stage} epoch {self.state.epoch + 1} batch {batch + 1}"
            self.stop_reason = (
                f"the training loss became NaN at {where}; lower the learning rate or check "
                "the training images"
            )
        if self.stop_reason is not None:
            self.model.stop_training = True

    def _epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Record the epoch, keep the best weights, stop early, shrink the learning rate."""
        import keras

        if self.stop_reason is not None:
            return
        state = self.state
        logs = {name: float(value) for name, value in (logs or {}).items()}
        logs["lr"] = float(keras.backend.get_value(self.model.optimizer.learning_rate))
        history = state.history[state.stage - 1]
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        state.epoch = epoch + 1
        state.learning_rate = logs["lr"]
        rank = self._track_best(logs)
        self._early_stopping(logs["val_loss"])
        self._plateau(logs["loss"])
        if self.is_main:
            self._save(best_rank=rank)
            self._log(logs, improved=rank == 0)
            self._report()

    def _track_best(self, logs: dict[str, float]) -> int | None:
        """Keep the weights when the validation loss is one of the run's best.

        Returns the epoch's rank among the `Profile.average_best` best (0: the best so far), or
        None when it is not one of them.
        """
        state, val_loss = self.state, logs["val_loss"]
        if not math.isfinite(val_loss):
            return None
        keep = self.profile.average_best
        rank = bisect.bisect_right(state.best_val_losses, val_loss)
        if rank >= keep:
            return None
        _insert_ranked(state.best_val_losses, rank, val_loss, keep=keep)
        _insert_ranked(self.best_weights, rank, self.model.get_weights(), keep=keep)
        if rank == 0:
            state.best_val_loss, state.best_val_accuracy = val_loss, logs["val_accuracy"]
            state.best_stage, state.best_epoch = state.stage, state.epoch
        return rank

    def _early_stopping(self, val_loss: float) -> None:
        """End the stage after `patience` epochs without a better validation loss."""
        state = self.state
        if val_loss < state.stage_best_val_loss - _MIN_DELTA:
            state.stage_best_val_loss, state.stage_wait = val_loss, 0
            return
        state.stage_wait += 1
        if state.stage_wait >= self.profile.patience:
            self.model.stop_training = True

    def _plateau(self, loss: float) -> None:
        """Shrink the learning rate after `reduce_lr_patience` epochs without a lower loss.

        Epochs of the workers' warm-up do not count: the warm-up sets the rate itself.
        """
        import keras

        state = self.state
        if state.run_epoch <= self.warmup_epochs:
            return
        if loss < state.plateau_loss - _MIN_DELTA:
            state.plateau_loss, state.plateau_wait = loss, 0
            return
        state.plateau_wait += 1
        if state.plateau_wait >= self.profile.reduce_lr_patience:
            state.learning_rate *= self.profile.reduce_lr_factor
            state.plateau_wait = 0
            keras.backend.set_value(self.model.optimizer.learning_rate, state.learning_rate)
            if self.is_main:
                logger.info("training loss on a plateau: learning rate %.3g", state.learning_rate)

    def _log(self, logs: dict[str, float], *, improved: bool) -> None:
        state = self.state
        metrics = ", ".join(f"{name} {value:.4g}" for name, value in sorted(logs.items()))
        logger.info(
            "stage %d/%d epoch %d/%d: %s (%.1f s)%s",
            state.stage,
            N_STAGES,
            state.epoch,
            self.profile.epochs[state.stage - 1],
            metrics,
            time.perf_counter() - self._epoch_began,
            " best so far" if improved else "",
        )

    def _report(self) -> None:
        """Report how far the run is: finished stages, and this stage's epochs of its maximum."""
        state, epochs = self.state, self.profile.epochs[self.state.stage - 1]
        where = f"stage {state.stage}/{N_STAGES} epoch {state.epoch}/{epochs}"
        report_progress((state.stage - 1 + state.epoch / epochs) / N_STAGES, where)

    def _save(self, *, best_rank: int | None = None) -> None:
        """Write checkpoints (this epoch's as one of the best, the last one's), then the state.

        Each checkpoint gets a new name and the state names the current ones, so a process
        killed while writing leaves the previous, complete set behind.
        """
        import tensorflow as tf

        if not self.is_main:
            return
        state, folder = self.state, self.folder / STATE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        tag = f"{state.run_epoch:04d}-stage-{state.stage}"
        stale = [state.checkpoint]
        if best_rank is not None:
            best = state.best_checkpoints
            stale += _insert_ranked(best, best_rank, f"best-{tag}", keep=self.profile.average_best)
            tf.train.Checkpoint(model=self.model).write(str(folder / best[best_rank]))
        state.checkpoint = f"last-{tag}"
        everything = tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer)
        everything.write(str(folder / state.checkpoint))
        _atomic_text(folder / _PROGRESS_FILE, json.dumps(asdict(state), indent=1))
        for name in set(stale) - {None, state.checkpoint, *state.best_checkpoints}:
            for path in folder.glob(f"{name}.*"):
                path.unlink()

    def _restore_once(self, model: keras.Model) -> None:
        """Restore the saved state into `model` the first time the run meets a model."""
        if self._restore_pending:
            self._restore(model)
            self._restore_pending = False

    def _restore(self, model: keras.Model) -> None:
        """Load the best epochs' and the last epoch's weights, and the optimiser inside a stage."""
        import tensorflow as tf

        folder = self.folder / STATE_FOLDER
        self.best_weights = []
        for name in self.state.best_checkpoints:
            tf.train.Checkpoint(model=model).read(str(folder / name)).expect_partial()
            self.best_weights.append(model.get_weights())
        if self.state.epoch > 0:
            model.optimizer.build(model.trainable_variables)
            checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        else:
            checkpoint = tf.train.Checkpoint(model=model)
        checkpoint.read(str(folder / self.state.checkpoint)).expect_partial()
        logger.info(
            "continuing at stage %d epoch %d (learning rate %.3g, best val_loss %.4g)",
            self.state.stage,
            self.state.epoch + 1,
            self.state.learning_rate,
            self.state.best_val_loss,
        )

    def clear(self) -> None:
        """Remove the saved state once the run is complete (rank 0)."""
        if self.is_main:
            shutil.rmtree(self.folder / STATE_FOLDER, ignore_errors=True)


def _insert_ranked(items: list, rank: int, item: object, *, keep: int) -> list:
    """Insert `item` at `rank`, keep the first `keep` items and return those dropped."""
    items.insert(rank, item)
    dropped = items[keep:]
    del items[keep:]
    return dropped


def _atomic_text(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)

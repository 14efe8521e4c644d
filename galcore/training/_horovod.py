"""Horovod in one place: one process or many share the training code through `Workers`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from galcore.errors import TrainingError

if TYPE_CHECKING:
    import keras

__all__ = ["Workers", "init_workers", "launched_by_horovod"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_LAUNCHER_VARIABLES = ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK")
"""Set by horovodrun (Gloo), Open MPI and MPICH / Intel MPI in every process they start."""


@dataclass(frozen=True)
class Workers:
    """The training processes: this one's rank, their number, and Horovod when it runs them.

    Parameters
    ----------
    rank
        This process's rank; rank 0 writes the run and logs each epoch.
    size
        Number of processes.
    local_rank
        Rank among the processes of this machine (picks the GPU).
    hvd
        The ``horovod.tensorflow.keras`` module, or None for one process without Horovod.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    hvd: ModuleType | None = None

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes and logs."""
        return self.rank == 0

    def optimizer(self, learning_rate: float) -> keras.optimizers.Optimizer:
        """Return Adam at `learning_rate` times the number of workers, averaging gradients.

        Parameters
        ----------
        learning_rate
            The learning rate of one worker.

        Returns
        -------
        keras.optimizers.Optimizer
            Adam, wrapped in Horovod's ``DistributedOptimizer`` under Horovod.
        """
        import keras

        optimizer = keras.optimizers.Adam(learning_rate * self.size)
        return optimizer if self.hvd is None else self.hvd.DistributedOptimizer(optimizer)

    def callbacks(
        self,
        model: keras.Model,
        *,
        learning_rate: float,
        warmup_epochs: int,
        steps_per_epoch: int,
    ) -> list[keras.callbacks.Callback]:
        """Return Horovod's callbacks, to be listed before any that reads metrics or weights.

        They broadcast rank 0's variables (the optimiser's too, once it has them), average the
        epoch metrics and the batch-norm statistics over the workers, and (with several
        workers) warm the learning rate up from `learning_rate` to `learning_rate` times their
        number.

        Parameters
        ----------
        model
            The model being trained (its batch-norm statistics are averaged).
        learning_rate
            The learning rate of one worker.
        warmup_epochs
            Epochs of learning-rate warm-up (0: none).
        steps_per_epoch
            Batches per epoch, for a smooth warm-up.

        Returns
        -------
        list of keras.callbacks.Callback
            Empty without Horovod.
        """
        if self.hvd is None:
            return []
        callbacks = [
            self.hvd.callbacks.BroadcastGlobalVariablesCallback(0),
            self.hvd.callbacks.MetricAverageCallback(),
            _batch_norm_averaging(model),
        ]
        if self.size > 1 and warmup_epochs > 0:
            warmup = self.hvd.callbacks.LearningRateWarmupCallback(
                initial_lr=learning_rate * self.size,
                warmup_epochs=warmup_epochs,
                steps_per_epoch=steps_per_epoch,
            )
            callbacks.append(warmup)
        return callbacks

    def broadcast_weights(self, model: keras.Model) -> None:
        """Give every worker rank 0's weights (nothing to do for one process).

        Parameters
        ----------
        model
            The model, built the same way on every worker.
        """
        if self.hvd is not None:
            import horovod.tensorflow

            horovod.tensorflow.broadcast_variables(model.variables, root_rank=0)

    def broadcast(self, value: T) -> T:
        """Return rank 0's `value` on every worker.

        Parameters
        ----------
        value
            A picklable object; only rank 0's matters.

        Returns
        -------
        object
            Rank 0's value (`value` itself without Horovod).
        """
        if self.hvd is None:
            return value
        import horovod.tensorflow

        return horovod.tensorflow.broadcast_object(value, root_rank=0, name="galcore.broadcast")


def _batch_norm_averaging(model: keras.Model) -> keras.callbacks.Callback:
    """Return a callback that averages trainable batch-norm statistics over workers per epoch.

    Gradients are averaged, but each worker updates its moving means and variances from its own
    batches; without this the workers' models would drift apart.
    """
    import horovod.tensorflow
    import keras

    def average(_epoch: int, _logs: dict[str, float] | None = None) -> None:
        variables = [
            variable
            for layer in model.submodules
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
            for variable in (layer.moving_mean, layer.moving_variance)
        ]
        if variables:
            means = horovod.tensorflow.grouped_allreduce(variables, op=horovod.tensorflow.Average)
            for variable, mean in zip(variables, means, strict=True):
                variable.assign(mean)

    return keras.callbacks.LambdaCallback(on_epoch_end=average)


def launched_by_horovod() -> bool:
    """Return whether horovodrun or mpirun started this process.

    Returns
    -------
    bool
        True when a launcher's rank variable (``HOROVOD_RANK``, ``OMPI_COMM_WORLD_RANK`` or
        ``PMI_RANK``) is set.
    """
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def init_workers() -> Workers:
    """Start Horovod when a launcher started this process; otherwise return one worker.

    Under Horovod each process sees only its own GPU (when there are GPUs) and uses its share of
    the machine's CPU cores for TensorFlow's thread pools.

    Returns
    -------
    Workers
        Rank, size and the Horovod module (None without a launcher).

    Raises
    ------
    TrainingError
        If a launcher started this process but Horovod cannot be imported.
    """
    if not launched_by_horovod():
        return Workers()
    try:
        import horovod.tensorflow.keras as hvd
    except ImportError as error:
        msg = f"this process was started by horovodrun/mpirun but Horovod is missing: {error}"
        raise TrainingError(msg) from error
    hvd.init()
    _use_local_resources(hvd.local_rank(), hvd.local_size())
    logger.info("Horovod worker %d of %d", hvd.rank(), hvd.size())
    return Workers(rank=hvd.rank(), size=hvd.size(), local_rank=hvd.local_rank(), hvd=hvd)


def _use_local_resources(local_rank: int, local_size: int) -> None:
    """Pin this worker's GPU (if any) and give it its share of the CPU cores."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, enable=True)
    if gpus:
        tf.config.set_visible_devices(gpus[local_rank % len(gpus)], "GPU")
    threads = max(1, len(os.sched_getaffinity(0)) // local_size)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        logger.debug("TensorFlow has started already; keeping its thread pools")

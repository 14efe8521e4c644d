"""Where the batch steps run: a Dask cluster, local by default or any scheduler by address.

Curation, inference and embedding split their work into tasks that each own whole blocks of
rows (`store.RowBlocks`) and write them straight into the workspace; the driver only submits
tasks and follows them. `Engine()` starts a `distributed.LocalCluster` of one-thread worker
processes (every core by default); `Engine(scheduler="tcp://host:8786")` uses a running
cluster (``dask scheduler`` with ``dask worker``, or one from ``dask-jobqueue``), whose workers
must see the workspace at the same path. Without an engine (``None``), the tasks run one after
another in this process: the same code, for tests and small jobs.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from galcore.errors import EngineError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["DEFAULT_BLOCK_ROWS", "Engine", "file_identity", "loaded_once", "run_tasks"]

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_ROWS = 4096
"""Catalog rows per task, and per chunk of the arrays the tasks write."""
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
"""Set to 1 in local workers: one process per core, each computing on one thread."""
_LOG_EVERY_S = 10.0
_LOADED: dict[tuple[str, int, int], Any] = {}
"""What `loaded_once` loaded last in this process, by the file's identity."""


@dataclass(frozen=True)
class Engine:
    """A Dask cluster to run a step's tasks on.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); None starts a local cluster.
    workers
        Worker processes of the local cluster (one thread each); None: every core. Ignored
        with `scheduler`.
    """

    scheduler: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            msg = f"workers={self.workers}: give at least 1 worker process"
            raise EngineError(msg)

    @property
    def n_workers(self) -> int:
        """The local cluster's worker processes."""
        return self.workers or os.cpu_count() or 1

    def describe(self) -> str:
        """Say where the tasks run, for logs."""
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler}"
        return f"a local Dask cluster of {self.n_workers} worker process(es)"

    @contextmanager
    def client(self) -> Iterator[Client]:
        """Connect to the scheduler, or start the local cluster, for the `with` block.

        Raises
        ------
        EngineError
            If the scheduler does not answer.
        """
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError) as error:
                msg = (
                    f"cannot reach the Dask scheduler at {self.scheduler} ({error}); start it"
                    " with 'dask scheduler' and its workers with 'dask worker ADDRESS', or leave"
                    " out --scheduler to use a local cluster"
                )
                raise EngineError(msg) from error
            with client:
                yield client
            return
        cluster = LocalCluster(
            n_workers=self.n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # any free port
            env=dict.fromkeys(_THREAD_VARIABLES, "1"),
        )
        with cluster, Client(cluster) as client:
            yield client


def run_tasks(
    engine: Engine | None,
    function: Callable[..., int],
    tasks: Sequence[tuple[Any, ...]],
    *,
    what: str,
    total: int,
) -> int:
    """Run ``function(*task)`` for every task, on the engine or here, showing progress.

    Each call returns how many objects it handled; progress (objects/s, ETA) is logged, drawn
    as a bar on a terminal and reported to a job's progress file. A task whose worker dies is
    run again by Dask; the first task that fails stops the step with its error.

    Parameters
    ----------
    engine
        Where to run the tasks; None: one after another in this process.
    function
        The task (importable at module level, so workers can load it).
    tasks
        The arguments of each call.
    what
        What the objects are being put through, e.g. ``"predict"``.
    total
        Objects over all tasks, for the progress.

    Returns
    -------
    int
        Objects handled.
    """
    meter = _Meter(what, total)
    if engine is None:
        for task in tasks:
            meter.add(function(*task))
        return meter.close()
    from distributed import as_completed

    with engine.client() as client:
        logger.info("%s: %d task(s) on %s", what, len(tasks), engine.describe())
        futures = [client.submit(function, *task, pure=False) for task in tasks]
        try:
            for future in as_completed(futures):
                meter.add(future.result())
        except BaseException:
            client.cancel(futures)
            raise
    return meter.close()


def file_identity(path: Path) -> tuple[str, int, int]:
    """Return the file's path, size and modification time: it changes when it is rewritten."""
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def loaded_once(path: Path, load: Callable[[Path], Any]) -> Any:  # noqa: ANN401
    """Return ``load(path)``, loading it only once per process while the file is unchanged.

    A worker's tasks share what it loads (a model, a t-SNE map); only the last file loaded
    is kept, so a worker holds one at a time.
    """
    key = file_identity(path)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load(path)
    return _LOADED[key]


class _Meter:
    """Progress of a step over its objects: log lines, a terminal bar, job records."""

    def __init__(self, what: str, total: int) -> None:
        from tqdm import tqdm

        self.what, self.total, self.done = what, max(int(total), 0), 0
        self.began = self.logged = time.monotonic()
        self.bar = tqdm(
            total=self.total, desc=what, unit="obj", disable=not sys.stderr.isatty(), leave=False
        )

    def add(self, n: int) -> None:
        from galcore.jobs.progress import report_progress

        self.done += int(n)
        self.bar.update(int(n))
        now = time.monotonic()
        message = self._message(now)
        report_progress(self.done / self.total if self.total else 1.0, message)
        if now - self.logged >= _LOG_EVERY_S:
            logger.info("%s: %s", self.what, message)
            self.logged = now

    def close(self) -> int:
        self.bar.close()
        logger.info("%s: %s", self.what, self._message(time.monotonic()))
        return self.done

    def _message(self, now: float) -> str:
        elapsed = max(now - self.began, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else float("inf")
        eta = f", {left:.0f} s left" if self.done < self.total and rate else ""
        return f"{self.done} of {self.total} objects, {rate:.0f} objects/s{eta}"

"""Let SIGTERM end a training cleanly, so its run is marked failed instead of left training."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from galcore.training._schedule import Schedule

__all__ = ["stopped_by_sigterm"]


@contextlib.contextmanager
def stopped_by_sigterm(schedule: Schedule) -> Iterator[None]:
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

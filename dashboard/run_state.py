"""What a run holds, with NaN for the arrays it lacks, and which command makes them.

A workspace may have a catalog but no run yet, and a run may be trained but not predicted, or
predicted but not embedded. The dashboard opens on all of them: `run_predictions` fills what a
run lacks with NaN (no prediction, no position in the embedding) and `missing_message` says
which ``galcore`` command makes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from store import LABELS, NO_LABEL, Workspace
from store.schema import RUN_ARRAYS

__all__ = ["SHOWN_ARRAYS", "default_run", "missing_message", "no_run_message", "run_predictions"]

SHOWN_ARRAYS: tuple[str, ...] = ("probs", "embedding")
"""The run arrays the dashboard shows: the class probabilities and the 3-D embedding."""

_WIDTHS = {"probs": len(LABELS), "embedding": RUN_ARRAYS["embedding"][1]}


def default_run(workspace: Workspace, runs: Sequence[str]) -> str | None:
    """Return the run to show first: the newest embedded one, else the newest predicted one.

    Parameters
    ----------
    workspace
        The workspace.
    runs
        Its run names, oldest first.

    Returns
    -------
    str or None
        The run; the newest run if none has predictions; None if there is no run.
    """
    catalog = workspace.catalog(mode="r")
    for needed in (SHOWN_ARRAYS, SHOWN_ARRAYS[:1], ()):
        having = [name for name in runs if all(catalog.run(name).has(a) for a in needed)]
        if having:
            return having[-1]
    return None


def no_run_message(workspace: Workspace) -> str:
    """Say that the workspace has no run yet and which commands make one.

    Examples
    --------
    >>> no_run_message(Workspace("ws")).startswith("no run in workspace ws yet")
    True
    """
    root = workspace.root
    return (
        f"no run in workspace {root} yet: the catalog's galaxies are shown without predictions."
        f" Run 'galcore demo --workspace {root}' to train, predict and embed a demo run on this"
        f" catalog, or 'galcore train --workspace {root} --run r1', then 'galcore predict' and"
        f" 'galcore embed'; then reload this page"
    )


def missing_message(workspace: Workspace, run: str | None, array: str) -> str:
    """Say that a run lacks an array the dashboard shows, and which command makes it.

    Parameters
    ----------
    workspace
        The workspace.
    run
        The run; None when the workspace has none (`no_run_message`).
    array
        One of `SHOWN_ARRAYS`.

    Returns
    -------
    str
        E.g. ``"run r2 has no embedding: run 'galcore embed --workspace ws --run r2'"``;
        empty if the run has the array.

    Raises
    ------
    StoreNotFoundError
        If the catalog has no run `run`.
    """
    if run is None:
        return no_run_message(workspace)
    stored = workspace.catalog(mode="r").run(run)
    if stored.has(array):
        return ""
    command = f"--workspace {workspace.root} --run {run}"
    if stored.has("probs"):
        return f"run {run} has no embedding: run 'galcore embed {command}'"
    what = "predictions" if array == "probs" else "predictions and no embedding"
    status, error = stored.attrs.get("status"), stored.attrs.get("error")
    if status == "failed":
        return (
            f"run {run} has no {what}: its training failed ({error or 'no reason recorded'});"
            f" train a new run with 'galcore train --workspace {workspace.root} --run NAME'"
        )
    then = f", then 'galcore embed {command}'" if array == "embedding" else ""
    if status == "training":
        return (
            f"run {run} has no {what}: it is still training; when it has finished, run"
            f" 'galcore predict {command}'{then}"
        )
    return f"run {run} has no {what}: run 'galcore predict {command}'{then}"


def run_predictions(workspace: Workspace, run: str | None) -> dict[str, np.ndarray]:
    """Read a run's probabilities and embedding, NaN where it lacks them; derive the rest.

    Parameters
    ----------
    workspace
        The workspace.
    run
        The run; None for no run (nothing predicted).

    Returns
    -------
    dict of str to numpy.ndarray
        ``probs`` (N, n_classes), ``embedding`` (N, 3), ``predicted`` (class index, `NO_LABEL`
        where there is no prediction), ``valid`` (rows with a prediction, and a position when
        the run has an embedding), ``shown`` (the rows to plot: ``valid``, or every row when
        the run has no predictions at all) and ``trained`` (the run's training rows).

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog, or no run `run`.
    """
    catalog = workspace.catalog(mode="r")
    stored = None if run is None else catalog.run(run)
    has = {name: stored is not None and stored.has(name) for name in SHOWN_ARRAYS}
    probs, embedding = (
        stored.read(name)
        if stored is not None and has[name]
        else np.full((len(catalog), _WIDTHS[name]), np.nan, dtype=RUN_ARRAYS[name][0])
        for name in SHOWN_ARRAYS
    )
    valid = np.isfinite(probs).all(axis=1)
    if has["embedding"]:
        valid &= np.isfinite(embedding).all(axis=1)
    predicted = np.where(valid, np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1), NO_LABEL)
    shown = valid if has["probs"] else np.ones(len(catalog), dtype=bool)
    trained = np.zeros(len(catalog), dtype=bool)
    if stored is not None and stored.has("train_index"):
        trained[stored.read("train_index")] = True
    return {
        "probs": probs,
        "embedding": embedding,
        "predicted": predicted,
        "valid": valid,
        "shown": shown,
        "trained": trained,
    }

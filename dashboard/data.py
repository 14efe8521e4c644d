"""The dashboard's data: cached loaders of the catalog, a run's arrays and the review states.

Loaded arrays are cached across sessions with `pn.cache` by pure loader functions keyed by the
workspace, the run and a data version (the modification time of the Zarr metadata), so a
rewritten catalog or embedding is read again. Plot objects are never cached across sessions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn

from dashboard.run_state import run_predictions
from store import (
    LABELS,
    NO_LABEL,
    SETS,
    STATE_NAMES,
    STATES,
    SURVEYS,
    Workspace,
    set_mask,
)

__all__ = [
    "ALL_SURVEYS",
    "CATEGORY_COLUMNS",
    "COLOR_COLUMNS",
    "NO_LABEL_NAME",
    "REVIEW_STATES",
    "SELECTION_PARAMETERS",
    "Galaxy",
    "data_version",
    "embedded_runs",
    "load_objects",
    "load_points",
    "load_predictions",
    "load_reviews",
    "select_frame",
]

logger = logging.getLogger(__name__)

ALL_SURVEYS = "all"
"""The survey filter value that keeps every survey."""

NO_LABEL_NAME = "none"
"""How an object without a Galaxy Zoo label (or without a prediction) is named."""

CATEGORY_COLUMNS: tuple[str, ...] = ("predicted", "label", "survey")
"""Frame columns that hold category names, the choices for colouring the embedding."""

REVIEW_STATES: tuple[str, ...] = tuple(STATE_NAMES[state] for state in STATES)
"""A galaxy's review state (its latest decision in effect); `NO_LABEL_NAME` when it has none."""

COLOR_COLUMNS: tuple[str, ...] = (*CATEGORY_COLUMNS, "review", "confidence")
"""What can colour the plots: a category column, the review state or the confidence."""

_REVIEW_CODES = {decision: REVIEW_STATES.index(name) for decision, name in STATE_NAMES.items()}
"""Index into `REVIEW_STATES` of each decision (a legacy ``reject`` counts as a relabel)."""

_OBJECT_COLUMNS = (
    "object_id",
    "survey",
    "ra",
    "dec",
    "label",
    "gz_p_el",
    "gz_p_cs",
    "gz_nvote",
    "match_index",
    "sets",
)
_RUN_ARRAYS = ("probs", "embedding")
SELECTION_PARAMETERS = ("selected_ids", "selected_row")
"""The session parameters that name the selection, set after the run and the filters."""


def data_version(workspace: Workspace, run: str | None = None) -> int:
    """Return a number that changes whenever the catalog (or the run's arrays) is rewritten.

    Parameters
    ----------
    workspace
        The workspace whose catalog is read.
    run
        A run name, to include its `probs` and `embedding` arrays; None for the catalog only.

    Returns
    -------
    int
        The newest modification time, in nanoseconds, of the Zarr metadata files involved.
    """
    paths = [workspace.catalog_path / "zarr.json"]
    if run is not None:
        run_dir = workspace.catalog_path / "runs" / run
        paths += [run_dir / name / "zarr.json" for name in _RUN_ARRAYS]
    return max((path.stat().st_mtime_ns for path in paths if path.exists()), default=0)


def embedded_runs(workspace: Workspace) -> list[str]:
    """Return the names of the runs that have probabilities and an embedding, oldest first.

    Parameters
    ----------
    workspace
        The workspace to look in.

    Returns
    -------
    list of str
        Run names; empty if no run has been embedded yet.

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog.
    """
    catalog = workspace.catalog(mode="r")
    return [
        name
        for name in catalog.runs()
        if all(catalog.run(name).has(array) for array in _RUN_ARRAYS)
    ]


def _read_only(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mark cached arrays read-only, since every session shares them."""
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


@pn.cache(max_items=4)
def load_objects(root: str, version: int) -> dict[str, np.ndarray]:
    """Read the object columns the dashboard shows; cached across sessions.

    Parameters
    ----------
    root
        The workspace folder.
    version
        `data_version` of the catalog: part of the cache key, so a new catalog is read again.

    Returns
    -------
    dict of str to numpy.ndarray
        Read-only columns, one value per catalog row, and ``usable``: whether the row has an
        image (status ok or partial), the rows the dashboard shows.
    """
    logger.info("reading the objects of %s (version %d)", root, version)
    catalog = Workspace(Path(root)).catalog(mode="r")
    return _read_only({**catalog.columns(_OBJECT_COLUMNS), "usable": catalog.usable()})


@pn.cache(max_items=16)
def load_predictions(root: str, run: str | None, version: int) -> dict[str, np.ndarray]:
    """Read a run's probabilities and embedding and derive the predicted class; cached.

    Parameters
    ----------
    root
        The workspace folder.
    run
        The run name; None when the workspace has no run yet.
    version
        `data_version` of the run: part of the cache key.

    Returns
    -------
    dict of str to numpy.ndarray
        Read-only arrays of `dashboard.run_state.run_predictions`: ``probs``, ``embedding``
        (NaN where the run lacks them), ``predicted``, ``valid`` and ``shown``.
    """
    logger.info("reading run %s of %s (version %d)", run, root, version)
    return _read_only(run_predictions(Workspace(Path(root)), run))


def _names(codes: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Return the category name of every code, `NO_LABEL_NAME` for negative codes."""
    lookup = np.array([*names, NO_LABEL_NAME])
    return lookup[np.where(codes < 0, len(names), codes)]


def select_frame(
    objects: dict[str, np.ndarray],
    predictions: dict[str, np.ndarray],
    *,
    survey: str = ALL_SURVEYS,
    misclassified_only: bool = False,
) -> dict[str, np.ndarray]:
    """Return the rows to plot: curated objects with a prediction that pass the filters.

    Parameters
    ----------
    objects
        Object columns from `load_objects`.
    predictions
        A run's arrays from `load_predictions`.
    survey
        A name from `store.SURVEYS`, or `ALL_SURVEYS`.
    misclassified_only
        Keep only objects with a Galaxy Zoo label that differs from the predicted class.

    Returns
    -------
    dict of str to numpy.ndarray
        ``row`` (catalog row), ``object_id``, ``x``, ``y``, ``z``, ``confidence`` (the predicted
        class's probability) and the category names ``predicted``, ``label`` and ``survey``.

    Raises
    ------
    ValueError
        If `survey` is not a known survey.
    """
    if survey not in (ALL_SURVEYS, *SURVEYS):
        msg = f"survey must be {ALL_SURVEYS!r} or one of {', '.join(SURVEYS)}, got {survey!r}"
        raise ValueError(msg)
    predicted, label = predictions["predicted"], objects["label"]
    keep = predictions.get("shown", predictions["valid"]) & objects["usable"]
    if survey != ALL_SURVEYS:
        keep &= objects["survey"] == SURVEYS.index(survey)
    if misclassified_only:
        keep &= predictions["valid"] & (label != NO_LABEL) & (label != predicted)
    rows = np.flatnonzero(keep)
    x, y, z = predictions["embedding"][rows].T
    return {
        "row": rows,
        "object_id": objects["object_id"][rows],
        "x": x,
        "y": y,
        "z": z,
        "confidence": predictions["probs"][rows].max(axis=1),
        "predicted": _names(predicted[rows], LABELS),
        "label": _names(label[rows], LABELS),
        "survey": _names(objects["survey"][rows], SURVEYS),
    }


@dataclass(frozen=True)
class Galaxy:
    """What the dashboard shows about one catalog object.

    Parameters
    ----------
    row
        The catalog row.
    object_id
        The survey's object id.
    survey
        The survey name.
    ra, dec
        Coordinates in degrees.
    label
        The Galaxy Zoo label name, or `NO_LABEL_NAME`.
    gz_p_el, gz_p_cs
        Galaxy Zoo vote fractions for elliptical and combined spiral.
    gz_nvote
        Number of Galaxy Zoo votes.
    sets
        The data sets the object belongs to.
    probs
        The run's class probabilities (NaN where the object has no prediction).
    predicted
        The predicted class index, `NO_LABEL` where there is no prediction.
    """

    row: int
    object_id: int
    survey: str
    ra: float
    dec: float
    label: str
    gz_p_el: float
    gz_p_cs: float
    gz_nvote: int
    sets: tuple[str, ...]
    probs: tuple[float, ...]
    predicted: int

    @property
    def predicted_name(self) -> str:
        """The predicted class name, or `NO_LABEL_NAME`."""
        return LABELS[self.predicted] if self.predicted != NO_LABEL else NO_LABEL_NAME


def _categorical(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    """Return the codes as a categorical of `names` plus `NO_LABEL_NAME` for negative codes."""
    codes = np.where(codes < 0, len(names), codes)
    return pd.Categorical.from_codes(codes, categories=[*names, NO_LABEL_NAME])


@pn.cache(max_items=4)
def load_points(root: str, run: str, version: int, run_version: int) -> pd.DataFrame:
    """Return every catalog row's coordinates and categories for plotting; cached.

    Parameters
    ----------
    root
        The workspace folder.
    run
        The run name.
    version, run_version
        `data_version` of the catalog and of the run: part of the cache key.

    Returns
    -------
    pandas.DataFrame
        One row per catalog row (NaN where the run has no prediction): ``row``, ``object_id``,
        the embedding ``x``, ``y``, ``z``, ``ra``, ``dec``, ``confidence`` and the categoricals
        ``predicted``, ``label`` and ``survey``. Share it, never modify it.
    """
    objects = load_objects(root, version)
    predictions = load_predictions(root, run, run_version)
    x, y, z = predictions["embedding"].T
    return pd.DataFrame(
        {
            "row": np.arange(len(objects["object_id"])),
            "object_id": objects["object_id"],
            "x": x,
            "y": y,
            "z": z,
            "ra": objects["ra"],
            "dec": objects["dec"],
            "confidence": predictions["probs"].max(axis=1),
            "predicted": _categorical(predictions["predicted"], LABELS),
            "label": _categorical(objects["label"], LABELS),
            "survey": _categorical(objects["survey"], SURVEYS),
        }
    )


@pn.cache(max_items=4)
def load_reviews(root: str, version: int, ledger_state: int) -> np.ndarray:
    """Return every catalog row's review state; cached.

    Parameters
    ----------
    root
        The workspace folder.
    version
        `data_version` of the catalog: part of the cache key.
    ledger_state
        The ledger state to read the decisions up to (and part of the cache key).

    Returns
    -------
    numpy.ndarray
        Read-only int8 index into `REVIEW_STATES` per catalog row, -1 where nothing is in effect.
    """
    object_ids = load_objects(root, version)["object_id"]
    current = Workspace(Path(root)).ledger().current(upto=ledger_state)
    decided = np.fromiter(current, dtype=np.int64, count=len(current))
    states = np.array([_REVIEW_CODES[row.decision] for row in current.values()], dtype=np.int8)
    order = np.argsort(object_ids)
    at = order[np.searchsorted(object_ids, decided, sorter=order).clip(0, len(order) - 1)]
    found = object_ids[at] == decided
    codes = np.full(len(object_ids), NO_LABEL, dtype=np.int8)
    codes[at[found]] = states[found]
    return _read_only({"review": codes})["review"]


def _galaxy(objects: dict[str, np.ndarray], predictions: dict[str, np.ndarray], row: int) -> Galaxy:
    """Collect one row of the objects and the predictions into a `Galaxy`."""
    sets = tuple(name for name in SETS if set_mask(objects["sets"][row], name))
    return Galaxy(
        row=row,
        object_id=int(objects["object_id"][row]),
        survey=SURVEYS[int(objects["survey"][row])],
        ra=float(objects["ra"][row]),
        dec=float(objects["dec"][row]),
        label=str(_names(objects["label"][row : row + 1], LABELS)[0]),
        gz_p_el=float(objects["gz_p_el"][row]),
        gz_p_cs=float(objects["gz_p_cs"][row]),
        gz_nvote=int(objects["gz_nvote"][row]),
        sets=sets,
        probs=tuple(float(p) for p in predictions["probs"][row]),
        predicted=int(predictions["predicted"][row]),
    )

"""Review queues: which galaxies a reviewer looks at, in which order.

Pure functions of the catalog's object columns (`dashboard.session.load_objects`), a run's
arrays (`dashboard.session.load_predictions`) and the ledger's state (`decided_rows` of
`store.Ledger.current`). Each returns a frame (`queue_frame`) of catalog rows in review order,
with what a reviewer needs beside each thumbnail. Every queue leaves out the rows in `decided`,
when given, so a reviewer can hide the galaxies that already have a decision. The `confident`
queue is what the next run takes as pseudo-labels, by the rule of `store.selection`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from store import LABELLED, LABELS, NO_LABEL, SURVEYS, Decision
from store.selection import DEFAULT_TOP, pseudo_label_candidates, top_confident

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOP",
    "LABELLED",
    "QUEUES",
    "Queue",
    "confident",
    "decided_rows",
    "make_queue",
    "misclassified",
    "queue_frame",
    "selection",
    "surveys_disagree",
    "uncertain",
    "undecided_rows",
]

Arrays = Mapping[str, np.ndarray]

DEFAULT_THRESHOLD = 0.5
"""Lowest probability of the predicted class in the `confident` queue (0.5: no cut, as the
paper's top N per class)."""


_SDSS, _DES = SURVEYS.index("sdss"), SURVEYS.index("des")


def queue_frame(objects: Arrays, predictions: Arrays, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Return what the grid shows about `rows`, in their order.

    Parameters
    ----------
    objects
        Object columns from `load_objects`.
    predictions
        A run's arrays from `load_predictions`.
    rows
        Catalog rows.

    Returns
    -------
    dict of str to numpy.ndarray
        ``row``, ``object_id``, ``survey`` (index into `SURVEYS`), ``predicted`` (class index,
        `NO_LABEL` without a prediction), ``confidence`` (the predicted class's probability,
        NaN without one), ``label`` (Galaxy Zoo, `NO_LABEL` for none) and the Galaxy Zoo vote
        fractions ``gz_p_el`` and ``gz_p_cs`` (as the paper's Fig. 12 shows them).
    """
    rows = np.asarray(rows, dtype=np.int64)
    frame = {"row": rows}
    for name in ("object_id", "survey", "label", "gz_p_el", "gz_p_cs"):
        frame[name] = objects[name][rows]
    frame["predicted"] = predictions["predicted"][rows]
    frame["confidence"] = predictions["probs"][rows].max(axis=1)
    return frame


def decided_rows(object_ids: np.ndarray, current: Mapping[int, Decision]) -> np.ndarray:
    """Return which catalog rows have a decision in effect.

    Parameters
    ----------
    object_ids
        The catalog's ``object_id`` column.
    current
        Object id -> decision in effect (`store.Ledger.current`).

    Returns
    -------
    numpy.ndarray
        A boolean mask over the catalog rows.
    """
    return np.isin(object_ids, np.fromiter(current, dtype=np.int64, count=len(current)))


def undecided_rows(
    frame: Mapping[str, np.ndarray], current: Mapping[int, Decision], decision: str
) -> np.ndarray:
    """Return the rows of a queue frame that a decision about many galaxies applies to.

    Parameters
    ----------
    frame
        A `queue_frame`.
    current
        The ledger's state (`store.Ledger.current`).
    decision
        The decision to record.

    Returns
    -------
    numpy.ndarray
        The rows without a decision in effect, and, to approve or relabel, with a prediction.
    """
    keep = ~decided_rows(frame["object_id"], current)
    if decision in LABELLED:
        keep &= frame["predicted"] != NO_LABEL
    return frame["row"][keep]


def _reviewable(objects: Arrays, predictions: Arrays, decided: np.ndarray | None) -> np.ndarray:
    """Curated rows with a prediction, without those in `decided`."""
    keep = predictions["valid"] & objects["usable"]
    return keep if decided is None else keep & ~decided


def _ranked(rows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Sort `rows` by `key` (one value per row), ascending; ties keep catalog order."""
    return rows[np.argsort(key, kind="stable")]


def confident(
    objects: Arrays,
    predictions: Arrays,
    *,
    decided: np.ndarray | None = None,
    reviewed: np.ndarray | None = None,
    top: int = DEFAULT_TOP,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, np.ndarray]:
    """Return the pseudo-labels that ``galcore recurse --top`` takes from this run.

    Its galaxies without a decision are exactly the `top` most confident predictions per class
    of the curated unlabelled galaxies outside the run's training set that nobody decided
    about (`store.selection`). A galaxy with a decision is no pseudo-label (the next run takes
    the reviewer's label, or leaves it out), so the next one moves up; unless hidden, it stays
    where it ranks, down to the last pseudo-label of its class, so a page keeps what was just
    decided. The classes are grouped, not interleaved: the ellipticals, most confident first,
    then the spirals, so a page mostly shows one class and an odd one out stands out.

    Parameters
    ----------
    objects, predictions
        As in `queue_frame`; ``predictions["trained"]``, when present, marks the run's
        training rows.
    decided
        Rows to leave out (hidden galaxies with a decision).
    reviewed
        Rows with a decision in effect (`decided_rows`): never pseudo-labels.
    top
        Pseudo-labels per class.
    threshold
        Keep only predictions whose class probability is at least this.

    Returns
    -------
    dict of str to numpy.ndarray
        The `queue_frame` of the queue.
    """
    n = len(objects["object_id"])
    hidden = np.zeros(n, dtype=bool) if decided is None else decided
    left_out = hidden if reviewed is None else hidden | reviewed
    probs = predictions["probs"]

    def ranked(without: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
        candidates = pseudo_label_candidates(
            objects["sets"],
            objects["usable"],
            probs,
            trained=predictions.get("trained", np.zeros(0, dtype=np.int64)),
            reviewed=without,
        )
        return top_confident(probs, candidates, most, min_prob=threshold)

    pseudo, pseudo_classes = ranked(left_out, top)
    rows, classes = ranked(hidden, n)  # the pseudo-labels in order, with the decided between
    lowest = np.full(len(LABELS), -np.inf)
    for label in range(len(LABELS)):
        taken = pseudo[pseudo_classes == label]
        if len(taken) == top:  # a full class: decided galaxies down to its last pseudo-label
            lowest[label] = probs[taken[-1], label] if top else np.inf
    shown = left_out[rows] & (probs[rows, classes] >= lowest[classes])
    return queue_frame(objects, predictions, rows[np.isin(rows, pseudo) | shown])


def misclassified(
    objects: Arrays, predictions: Arrays, *, decided: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Return the galaxies whose Galaxy Zoo label differs from the prediction, surest first.

    Parameters
    ----------
    objects, predictions, decided
        As in `confident`.

    Returns
    -------
    dict of str to numpy.ndarray
        The `queue_frame`, ordered by the predicted class's probability, highest first; its
        ``gz_p_el`` and ``gz_p_cs`` show how sure the Galaxy Zoo voters were.
    """
    label = objects["label"]
    keep = _reviewable(objects, predictions, decided) & (label != NO_LABEL)
    rows = np.flatnonzero(keep & (label != predictions["predicted"]))
    confidence = predictions["probs"][rows].max(axis=1)
    return queue_frame(objects, predictions, _ranked(rows, -confidence))


def uncertain(
    objects: Arrays, predictions: Arrays, *, decided: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Return every curated galaxy with a prediction, the least sure first.

    Parameters
    ----------
    objects, predictions, decided
        As in `confident`.

    Returns
    -------
    dict of str to numpy.ndarray
        The `queue_frame`, ordered by the predicted class's probability, lowest (closest to
        0.5 for two classes) first.
    """
    rows = np.flatnonzero(_reviewable(objects, predictions, decided))
    return queue_frame(objects, predictions, _ranked(rows, predictions["probs"][rows].max(axis=1)))


def surveys_disagree(
    objects: Arrays, predictions: Arrays, *, decided: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Return the galaxies seen by both surveys whose SDSS and DES images are predicted apart.

    Each pair is kept together: the SDSS row, then its DES match (`match_index`), so a page of
    an even size never splits a pair. Pairs where both images are most sure come first.

    Parameters
    ----------
    objects, predictions
        As in `queue_frame`.
    decided
        Leave out a pair when both of its galaxies are in it.

    Returns
    -------
    dict of str to numpy.ndarray
        The `queue_frame`; pair k is at positions 2k and 2k + 1.
    """
    ok = _reviewable(objects, predictions, None)
    survey, match = objects["survey"], objects["match_index"]
    sdss = np.flatnonzero(ok & (survey == _SDSS) & (match >= 0) & (match < len(match)))
    des = match[sdss]
    predicted = predictions["predicted"]
    keep = ok[des] & (survey[des] == _DES) & (predicted[sdss] != predicted[des])
    if decided is not None:
        keep &= ~(decided[sdss] & decided[des])
    sdss, des = sdss[keep], des[keep]
    confidence = predictions["probs"].max(axis=1)
    order = np.argsort(-np.minimum(confidence[sdss], confidence[des]), kind="stable")
    rows = np.column_stack([sdss[order], des[order]]).ravel()
    return queue_frame(objects, predictions, rows)


def selection(
    objects: Arrays,
    predictions: Arrays,
    *,
    selection: np.ndarray,
    decided: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Return the selected rows in catalog order (with or without a prediction).

    Parameters
    ----------
    objects, predictions, decided
        As in `confident`.
    selection
        Catalog rows (`ReviewSession.selection`).

    Returns
    -------
    dict of str to numpy.ndarray
        The `queue_frame` of the selected rows.
    """
    rows = np.unique(np.asarray(selection, dtype=np.int64))
    if decided is not None:
        rows = rows[~decided[rows]]
    return queue_frame(objects, predictions, rows)


class Queue(NamedTuple):
    """A review queue: the function that orders it and what it holds, in one line."""

    function: Callable[..., dict[str, np.ndarray]]
    description: str


QUEUES: Mapping[str, Queue] = {
    "confident": Queue(confident, "Surest predictions per class: what retraining adds"),
    "misclassified": Queue(misclassified, "Galaxy Zoo label against prediction, surest first"),
    "uncertain": Queue(uncertain, "Predictions closest to 0.5 first"),
    "surveys_disagree": Queue(surveys_disagree, "SDSS and DES images predicted apart, in pairs"),
    "selection": Queue(selection, "The galaxies selected in the linked views"),
}
"""The review queues by name."""


def make_queue(
    name: str,
    objects: Arrays,
    predictions: Arrays,
    *,
    decided: np.ndarray | None = None,
    **options: Any,  # noqa: ANN401
) -> dict[str, np.ndarray]:
    """Return the frame of the queue `name`, passing it the options it takes.

    Parameters
    ----------
    name
        A key of `QUEUES`.
    objects, predictions, decided
        As in `confident`.
    **options
        Options of the queue functions (``top``, ``threshold``, ``selection``); each queue
        takes those it knows.

    Returns
    -------
    dict of str to numpy.ndarray
        The `queue_frame` of the queue.

    Raises
    ------
    ValueError
        If `name` is not a queue.

    Examples
    --------
    >>> make_queue("confident", objects, predictions, top=100)  # doctest: +SKIP
    """
    if name not in QUEUES:
        msg = f"queue must be one of {', '.join(QUEUES)}, got {name!r}"
        raise ValueError(msg)
    function = QUEUES[name].function
    taken = inspect.signature(function).parameters
    given = {key: value for key, value in options.items() if key in taken}
    return function(objects, predictions, decided=decided, **given)

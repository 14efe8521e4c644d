"""Recursive training: the next training set from confident predictions and reviews."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from galcore.errors import TrainingError
from store import LABELS, Catalog, Decision, Workspace, set_mask

if TYPE_CHECKING:
    from galcore.training import Profile, TrainResult

__all__ = ["NextTrainingSet", "next_training_set", "recurse"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NextTrainingSet:
    """Rows and labels of the next run's training set, and where they came from."""

    rows: np.ndarray
    labels: np.ndarray
    n_parent: int
    n_pseudo: int
    n_approved: int
    n_rejected: int

    def provenance(self) -> dict[str, int]:
        """Return the counts to record in the new run."""
        return {
            "n_parent": self.n_parent,
            "n_pseudo": self.n_pseudo,
            "n_approved": self.n_approved,
            "n_rejected": self.n_rejected,
        }


def _most_confident(probs: np.ndarray, candidates: np.ndarray, top: int) -> dict[int, int]:
    """Row -> class of the `top` most confident candidate predictions of each class."""
    chosen = {}
    predicted = np.nan_to_num(probs).argmax(axis=1)
    for label in range(len(LABELS)):
        rows = np.flatnonzero(candidates & (predicted == label))
        best = rows[np.argsort(-probs[rows, label], kind="stable")[:top]]
        chosen.update(dict.fromkeys(best.tolist(), label))
    return chosen


def next_training_set(
    catalog: Catalog, parent: str, decisions: dict[int, Decision], *, top: int
) -> NextTrainingSet:
    """Return the parent's training set plus confident predictions and reviews.

    The `top` most confident predictions per class among the curated unlabelled objects join
    the parent run's training set, then every approved label joins (or overrides) it, and an
    object leaves it when the label it would train with is the one a reviewer rejected.

    Parameters
    ----------
    catalog
        The catalog holding the parent run.
    parent
        A run with ``train_index``, ``train_label`` and ``probs``.
    decisions
        The latest review decision per object id (`store.Ledger.latest`).
    top
        Confident predictions taken per class.

    Returns
    -------
    NextTrainingSet
        The rows, their labels and the counts of each source.
    """
    run = catalog.run(parent)
    parent_rows, parent_labels = run.read("train_index"), run.read("train_label")
    probs = run.read("probs")
    candidates = set_mask(catalog.column("sets"), "unlabelled") & catalog.ok()
    candidates &= np.isfinite(probs).all(axis=1)
    labels = dict(zip(parent_rows.tolist(), parent_labels.tolist(), strict=True))
    pseudo = _most_confident(probs, candidates, top)
    labels.update(pseudo)
    row_of = {object_id: row for row, object_id in enumerate(catalog.column("object_id").tolist())}
    unknown = [object_id for object_id in decisions if object_id not in row_of]
    if unknown:
        logger.warning(
            "%d reviewed objects are not in the catalog (e.g. %d)", len(unknown), unknown[0]
        )
    reviewed = {row_of[i]: d for i, d in decisions.items() if i in row_of}
    approved = {row: d.label for row, d in reviewed.items() if d.decision == "approve"}
    labels.update(approved)
    rejected = {row for row, d in reviewed.items() if d.decision == "reject"}
    for row in rejected:
        if labels.get(row) == reviewed[row].label:
            del labels[row]
    n_pseudo = sum(labels.get(row) == label for row, label in pseudo.items())
    rows = np.array(sorted(labels), dtype=np.int64)
    return NextTrainingSet(
        rows=rows,
        labels=np.array([labels[row] for row in rows.tolist()], dtype=np.int8),
        n_parent=len(parent_rows),
        n_pseudo=n_pseudo,
        n_approved=len(approved),
        n_rejected=len(rejected),
    )


def recurse(
    workspace: Path,
    parent: str,
    run: str,
    *,
    top: int = 1000,
    profile: str | None = None,
    seed: int = 0,
) -> TrainResult:
    """Train run `run` on the parent's training set, confident predictions and reviews.

    The ledger's state is read once and recorded with the run, so the labels it used can be
    replayed (`store.Ledger.latest` with ``upto``).

    Parameters
    ----------
    workspace
        The workspace folder.
    parent
        A run with predictions (``galcore predict``).
    run
        The new run's name.
    top
        Confident unlabelled predictions taken per class.
    profile
        Training profile; by default the parent's schedule, with its overrides.
    seed
        Seed of the new training.

    Returns
    -------
    TrainResult
        As `galcore.training.train` returns it.

    Raises
    ------
    TrainingError
        If `top` is negative.
    """
    from galcore.training import Examples, TrainConfig, get_profile, init_workers, train

    if top < 0:
        msg = f"top must be >= 0, got {top}"
        raise TrainingError(msg)
    space = Workspace(workspace)
    catalog = space.catalog(mode="r")
    workers = init_workers()
    state = workers.broadcast(space.ledger().state() if workers.is_main else None)
    chosen = next_training_set(catalog, parent, space.ledger().latest(upto=state), top=top)
    if workers.is_main:
        logger.info(
            "run %s from %s: %d parent labels, %d confident predictions, %d approved, %d rejected",
            run,
            parent,
            chosen.n_parent,
            chosen.n_pseudo,
            chosen.n_approved,
            chosen.n_rejected,
        )
    schedule = get_profile(profile) if profile else _parent_profile(catalog, parent)
    config = TrainConfig(Path(workspace), run, schedule, seed, parent, state)
    examples = Examples(chosen.rows, chosen.labels)
    return train(config, examples=examples, provenance={"top": top, **chosen.provenance()})


def _parent_profile(catalog: Catalog, parent: str) -> Profile:
    """Return the schedule the parent run trained with, overrides included."""
    from galcore.training import Profile

    return Profile.from_dict(catalog.run(parent).attrs["config"]["profile"])

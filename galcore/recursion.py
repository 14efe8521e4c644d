"""Recursive training: the next training set from the reviews and confident predictions."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from galcore.errors import TrainingError
from store import Catalog, Decision, Workspace
from store.selection import DEFAULT_TOP, pseudo_label_candidates, top_confident

if TYPE_CHECKING:
    from galcore.training import Profile, TrainResult

__all__ = ["NextTrainingSet", "Recursion", "next_training_set", "recurse"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NextTrainingSet:
    """Rows and labels of the next run's training set, and how many came from each source.

    ``n_parent + n_pseudo + n_approved + n_relabelled`` is the number of rows.
    """

    rows: np.ndarray
    labels: np.ndarray
    n_parent: int
    """Labels kept from the parent's training set (objects nobody decided about)."""
    n_pseudo: int
    """Confident predictions (pseudo-labels) of objects nobody decided about."""
    n_approved: int
    """Approved predictions."""
    n_relabelled: int
    """Labels a reviewer gave instead of the prediction (old ledgers' rejections included)."""
    n_left_out_artefact: int
    """Objects marked as artefacts, never trained on."""
    n_left_out_unsure: int
    """Objects a reviewer was unsure about, left out."""
    n_ignored: int
    """Decisions about objects that are not curated objects of this catalog."""

    def provenance(self) -> dict[str, int]:
        """Return the counts to record in the new run."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("n_")}

    def describe(self) -> str:
        """Say where the labels came from, in one line."""
        return (
            f"{len(self.rows)} labels ({self.n_parent} from the parent, {self.n_pseudo} confident"
            f" predictions, {self.n_approved} approved, {self.n_relabelled} relabelled); left out:"
            f" artefact {self.n_left_out_artefact}, unsure {self.n_left_out_unsure}; ignored:"
            f" {self.n_ignored} decisions about objects not curated in the catalog"
        )


class Recursion(NamedTuple):
    """What `recurse` did: the training and where its labels came from."""

    result: TrainResult
    training_set: NextTrainingSet


def next_training_set(
    catalog: Catalog, parent: str, decisions: Mapping[int, Decision], *, top: int
) -> NextTrainingSet:
    """Return the parent's training set with the reviewers' decisions and confident predictions.

    Every object a reviewer decided about gets the reviewer's label (approve, relabel, a
    legacy reject's other class), replacing the parent's, or is left out (artefact, unsure),
    even when the parent trained on it. Then the `top` most confident predictions per class
    among the curated unlabelled (DES-only) objects that have a prediction, are not in the
    parent's training set and that nobody decided about join with their predicted class.

    Parameters
    ----------
    catalog
        The catalog holding the parent run.
    parent
        A run with ``train_index``, ``train_label`` and ``probs``.
    decisions
        The state of each reviewed object (`store.Ledger.current`).
    top
        Confident predictions taken per class (0 for none).

    Returns
    -------
    NextTrainingSet
        The rows, in increasing order, their labels and the counts of each source.
    """
    run = catalog.run(parent)
    parent_rows, parent_labels = run.read("train_index"), run.read("train_label")
    probs = run.read("probs")
    curated = catalog.usable()
    row_of = {object_id: row for row, object_id in enumerate(catalog.column("object_id").tolist())}
    reviewed = {row_of[i]: d for i, d in decisions.items() if i in row_of and curated[row_of[i]]}
    if n_ignored := len(decisions) - len(reviewed):
        logger.warning("%d reviewed objects are not curated objects of the catalog", n_ignored)
    candidates = pseudo_label_candidates(
        catalog.column("sets"), curated, probs, trained=parent_rows, reviewed=list(reviewed)
    )
    pseudo_rows, pseudo_labels = top_confident(probs, candidates, top)
    pseudo = dict(zip(pseudo_rows.tolist(), pseudo_labels.tolist(), strict=True))
    labels = dict(zip(parent_rows.tolist(), parent_labels.tolist(), strict=True)) | pseudo
    for row, decision in reviewed.items():
        if decision.training_label is None:
            labels.pop(row, None)
        else:
            labels[row] = decision.training_label
    states = Counter(decision.decision for decision in reviewed.values())
    rows = np.array(sorted(labels), dtype=np.int64)
    return NextTrainingSet(
        rows=rows,
        labels=np.array([labels[row] for row in rows.tolist()], dtype=np.int8),
        n_parent=len(set(parent_rows.tolist()) - set(reviewed)),
        n_pseudo=len(pseudo),
        n_approved=states["approve"],
        n_relabelled=states["relabel"] + states["reject"],
        n_left_out_artefact=states["artefact"],
        n_left_out_unsure=states["unsure"],
        n_ignored=n_ignored,
    )


def recurse(
    workspace: Path,
    parent: str,
    run: str,
    *,
    top: int = DEFAULT_TOP,
    profile: str | None = None,
    seed: int = 0,
) -> Recursion:
    """Train run `run` on the parent's training set, the reviews and confident predictions.

    The ledger's state is read once and recorded with the run (``ledger_state``), so the labels
    it used can be replayed (`store.Ledger.current` with ``upto``); the counts of
    `NextTrainingSet` are recorded too.

    Parameters
    ----------
    workspace
        The workspace folder.
    parent
        A run with predictions (``galcore predict``).
    run
        The new run's name.
    top
        Confident unlabelled predictions taken per class (0: only the parent's training set
        and the reviews).
    profile
        Training profile; by default the parent's schedule, with its overrides.
    seed
        Seed of the new training.

    Returns
    -------
    Recursion
        The `galcore.training.TrainResult` and the `NextTrainingSet` it trained on.

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
    chosen = next_training_set(catalog, parent, space.ledger().current(upto=state), top=top)
    if workers.is_main:
        logger.info("run %s from %s: %s", run, parent, chosen.describe())
    schedule = get_profile(profile) if profile else _parent_profile(catalog, parent)
    config = TrainConfig(Path(workspace), run, schedule, seed, parent, state)
    examples = Examples(chosen.rows, chosen.labels)
    result = train(config, examples=examples, provenance={"top": top, **chosen.provenance()})
    return Recursion(result, chosen)


def _parent_profile(catalog: Catalog, parent: str) -> Profile:
    """Return the schedule the parent run trained with, overrides included."""
    from galcore.training import Profile

    return Profile.from_dict(catalog.run(parent).attrs["config"]["profile"])

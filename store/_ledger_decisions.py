"""Review decisions: what a reviewer can say, the checks on new ones, the state they add up to.

The state of an object is its latest decision in effect. A retraction names an earlier decision
about the same object and takes it out of effect, which restores the state from before it;
retracting a retraction puts the decision it retracted back into effect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from store.errors import SchemaError
from store.schema import LABELS, NO_LABEL

__all__ = [
    "DECISIONS",
    "LABELLED",
    "MAX_REASON",
    "MAX_REVIEWER",
    "PAST_TENSE",
    "STATES",
    "STATE_NAMES",
    "BulkOutcome",
    "Decision",
    "DecisionCounts",
    "check_text",
    "count_groups",
    "current_state",
    "retracted_ids",
    "stored_labels",
    "training_label",
]

STATES: tuple[str, ...] = ("approve", "relabel", "unsure", "artefact")
"""The decisions that give a galaxy a state (every decision but a retraction)."""
DECISIONS: tuple[str, ...] = (*STATES, "retract")
"""What a reviewer can record. Old ledgers also hold ``reject`` ("the label is wrong")."""
LABELLED: tuple[str, ...] = ("approve", "relabel")
"""The decisions that give a galaxy a class (the predicted one, or another)."""
PAST_TENSE: Mapping[str, str] = MappingProxyType(
    {
        "approve": "approved",
        "relabel": "relabelled",
        "unsure": "marked unsure",
        "artefact": "marked an artefact",
        "retract": "retracted a decision",
        "reject": "rejected",
    }
)
"""What a reviewer did, said in the past tense, per decision (legacy ``reject`` included)."""
STATE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "approve": "approved",
        "relabel": "relabelled",
        "unsure": "unsure",
        "artefact": "artefact",
        "reject": "relabelled",  # a legacy reject gave the other class
    }
)
"""The name of the state each decision in effect leaves a galaxy in."""

MAX_REVIEWER = 100
"""Longest reviewer name, in characters."""
MAX_REASON = 2000
"""Longest reason, in characters."""


def training_label(decision: str, label: int) -> int | None:
    """Return the class a decision gives its object, or None (unsure, artefact, retract).

    A legacy ``reject`` said that its `label` is wrong, so it gives the other class.
    """
    if decision in LABELLED:
        return label
    if decision == "reject":
        return 1 - label  # the other of the two classes
    return None


class Decision(NamedTuple):
    """One row of the ledger (`label` is `NO_LABEL` and `retracts` None where they do not apply)."""

    id: int
    created: str
    reviewer: str
    object_id: int
    decision: str
    label: int
    run: str | None
    reason: str
    retracts: int | None = None

    @property
    def training_label(self) -> int | None:
        """The class the reviewer gave the object, or None (see `training_label`)."""
        return training_label(self.decision, self.label)


class DecisionCounts(NamedTuple):
    """How many objects are in each state: per decision, per class given and per reviewer."""

    decision: dict[str, int]
    label: dict[str, int]
    reviewer: dict[str, int]


class BulkOutcome(NamedTuple):
    """What a decision about many objects recorded, and which objects it left out and why."""

    ids: list[int]
    """The new decisions' ids."""
    recorded: list[int]
    """The objects decided about, in the order of `ids`."""
    changed: list[int]
    """Objects left out: decided (by anyone) after the ledger state the decision was made at."""
    decided: list[int]
    """Objects left out: they have a decision in effect (only when undecided ones were asked)."""


def stored_labels(decision: str, labels: Sequence[int | None] | None, n: int) -> list[int]:
    """Check `decision` and the labels of `n` new decisions; return the labels to store.

    Approvals and relabels need one class per object; the other decisions take no label and
    store `NO_LABEL`.

    Raises
    ------
    SchemaError
        For an unknown decision, a missing label or a label outside `LABELS`.
    """
    if decision not in DECISIONS:
        hint = " (say 'relabel' with the right label)" if decision == "reject" else ""
        msg = f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}{hint}"
        raise SchemaError(msg)
    given = [NO_LABEL] * n if labels is None else list(labels)
    if len(given) != n:
        msg = f"got {len(given)} labels for {n} objects"
        raise SchemaError(msg)
    if decision not in LABELLED:
        if any(label not in (None, NO_LABEL) for label in given):
            msg = f"a {decision!r} decision takes no label, got {given}"
            raise SchemaError(msg)
        return [NO_LABEL] * n
    bad = [label for label in given if label not in range(len(LABELS))]
    if bad:
        msg = f"label must be 0..{len(LABELS) - 1} ({', '.join(LABELS)}), got {bad[0]!r}"
        raise SchemaError(msg)
    return [int(label) for label in given]


def check_text(reviewer: str, reason: str) -> None:
    """Refuse an empty, over-long or unprintable reviewer name and an over-long reason.

    Raises
    ------
    SchemaError
        Naming what is wrong.
    """
    if not isinstance(reviewer, str) or not reviewer.strip():
        msg = "reviewer must name who decided, got an empty name"
        raise SchemaError(msg)
    if len(reviewer) > MAX_REVIEWER or not reviewer.isprintable():
        msg = (
            f"reviewer must be at most {MAX_REVIEWER} printable characters (no control"
            f" characters or line breaks), got {reviewer!r}"
        )
        raise SchemaError(msg)
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        msg = f"reason must be text of at most {MAX_REASON} characters"
        raise SchemaError(msg)


def retracted_ids(rows: Sequence[Decision]) -> set[int]:
    """Return the ids of the decisions that a retraction in effect takes out of effect.

    Parameters
    ----------
    rows
        Ledger rows in id order; every retraction comes after the decision it names.
    """
    retracted: set[int] = set()
    for row in reversed(rows):  # a row's retractions all come later, so they are settled
        if row.decision == "retract" and row.id not in retracted and row.retracts is not None:
            retracted.add(row.retracts)
    return retracted


def current_state(rows: Sequence[Decision]) -> dict[int, Decision]:
    """Return each object's latest decision in effect (none for an object with none left).

    Parameters
    ----------
    rows
        Ledger rows in id order.
    """
    retracted = retracted_ids(rows)
    return {
        row.object_id: row for row in rows if row.decision != "retract" and row.id not in retracted
    }


def count_groups(groups: Iterable[tuple[str, int, str, int]]) -> DecisionCounts:
    """Count the states per decision, per class given (`LABELS` names) and per reviewer.

    Parameters
    ----------
    groups
        ``(decision, label, reviewer, number of objects)`` of the decisions in effect.
    """
    decisions: Counter[str] = Counter()
    labels: Counter[int | None] = Counter()
    reviewers: Counter[str] = Counter()
    for decision, label, reviewer, n in groups:
        decisions[decision] += n
        labels[training_label(decision, label)] += n
        reviewers[reviewer] += n
    return DecisionCounts(
        decision=dict.fromkeys(STATES, 0) | decisions,
        label={name: labels[k] for k, name in enumerate(LABELS)},
        reviewer=dict(reviewers),
    )

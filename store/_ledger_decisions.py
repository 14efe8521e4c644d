"""Review decisions: what a reviewer can say, the checks on new ones, the state they add up to.

The state of an object is its latest decision in effect. A retraction names an earlier decision
about the same object and takes it out of effect, which restores the state from before it;
retracting a retraction puts the decision it retracted back into effect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from store.errors import SchemaError
from store.schema import LABELS, NO_LABEL

__all__ = [
    "DECISIONS",
    "MAX_REASON",
    "MAX_REVIEWER",
    "Decision",
    "DecisionCounts",
    "check_text",
    "count",
    "current_state",
    "retracted_ids",
    "stored_labels",
]

_STATES = ("approve", "relabel", "unsure", "artefact")
DECISIONS: tuple[str, ...] = (*_STATES, "retract")
"""What a reviewer can record. Old ledgers also hold ``reject`` ("the label is wrong")."""

_LABELLED = ("approve", "relabel")
MAX_REVIEWER = 100
"""Longest reviewer name, in characters."""
MAX_REASON = 2000
"""Longest reason, in characters."""


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
        """The class the reviewer gave the object, or None (unsure, artefact, retract).

        A legacy ``reject`` said that its `label` is wrong, so it gives the other class.
        """
        if self.decision in _LABELLED:
            return self.label
        if self.decision == "reject":
            return 1 - self.label  # the other of the two classes
        return None


class DecisionCounts(NamedTuple):
    """How many objects are in each state: per decision, per class given and per reviewer."""

    decision: dict[str, int]
    label: dict[str, int]
    reviewer: dict[str, int]


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
    if decision not in _LABELLED:
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


def count(state: Iterable[Decision]) -> DecisionCounts:
    """Count the states per decision, per class given (`LABELS` names) and per reviewer."""
    state = list(state)
    labels = Counter(row.training_label for row in state)
    return DecisionCounts(
        decision=dict.fromkeys(_STATES, 0) | Counter(row.decision for row in state),
        label={name: labels[k] for k, name in enumerate(LABELS)},
        reviewer=dict(Counter(row.reviewer for row in state)),
    )

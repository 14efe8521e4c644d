"""The review ledger: an append-only SQLite table of the decisions people make.

Decisions are never updated or deleted: an object's state is computed from them
(`current`), and a retraction is a new decision that undoes an earlier one. The ledger's state
is its highest decision id, which a run records so the labels it used can be replayed.
Several processes may append at once (WAL mode, a busy timeout).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from store._ledger_db import (
    EVERY,
    IN_EFFECT,
    OF_OBJECTS,
    in_effect,
    insert,
    open_ledger,
    reading,
    retractions_in_effect,
    select,
    writing,
)
from store._ledger_decisions import (
    DECISIONS,
    BulkOutcome,
    Decision,
    DecisionCounts,
    check_text,
    count_groups,
    stored_labels,
)
from store.errors import SchemaError

__all__ = ["DECISIONS", "BulkOutcome", "Decision", "DecisionCounts", "Ledger", "check_text"]


class Ledger:
    """The review ledger of a workspace (created, or migrated to this schema, on opening).

    Parameters
    ----------
    path
        The SQLite file, usually ``<workspace>/reviews.sqlite``.
    timeout
        Seconds to wait for another process that is writing before giving up.

    Raises
    ------
    SchemaError
        If the file is not a ledger, or was written by a newer version.
    LedgerLockedError
        If another process holds the file longer than `timeout` (here and in every method).

    Examples
    --------
    >>> ledger = Ledger(tmp_path / "reviews.sqlite")  # doctest: +SKIP
    >>> ledger.record_decision(1237, "approve", label=1, reviewer="ana", run="r1")  # doctest: +SKIP
    1
    >>> ledger.record_decision(1237, "retract", reviewer="ana", retracts=1)  # doctest: +SKIP
    2
    >>> ledger.current()  # doctest: +SKIP
    {}
    """

    def __init__(self, path: Path | str, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        open_ledger(self.path, timeout)

    def record_decision(
        self,
        object_id: int,
        decision: str,
        *,
        label: int | None = None,
        reviewer: str,
        run: str | None = None,
        reason: str = "",
        retracts: int | None = None,
    ) -> int:
        """Append one decision and return its id.

        Parameters
        ----------
        object_id
            The object's `object_id` in the catalog.
        decision
            One of `DECISIONS`: ``"approve"`` (the predicted class `label` is right),
            ``"relabel"`` (the object is of class `label`), ``"unsure"``, ``"artefact"``
            (not a galaxy, or a bad image: never train on it) or ``"retract"``.
        label
            An index into `store.schema.LABELS`; required to approve and relabel, None
            otherwise.
        reviewer
            Who decided: printable, at most `MAX_REVIEWER` characters, stored as given.
        run
            The run whose prediction was reviewed.
        reason
            Free text (at most `MAX_REASON` characters), stored as given.
        retracts
            For a retraction, the id of a decision in effect about the same object, which it
            takes out of effect. Retracting a retraction puts its decision back in effect.

        Returns
        -------
        int
            The new decision's id.

        Raises
        ------
        SchemaError
            If the decision, its label, reviewer or reason, or the decision it retracts is
            refused; nothing is recorded then.
        """
        (decision_id,) = self.record_decisions(
            [object_id],
            decision,
            labels=None if label is None else [label],
            reviewer=reviewer,
            run=run,
            reason=reason,
            retracts=None if retracts is None else [retracts],
        )
        return decision_id

    def record_decisions(
        self,
        object_ids: Sequence[int],
        decision: str,
        *,
        labels: Sequence[int | None] | None = None,
        reviewer: str,
        run: str | None = None,
        reason: str = "",
        retracts: Sequence[int] | None = None,
    ) -> list[int]:
        """Append one decision per object in one transaction: all of them, or none.

        Parameters
        ----------
        object_ids
            The objects decided about.
        decision, reviewer, run, reason
            As in `record_decision`, the same for every object.
        labels, retracts
            One `label` and one `retracts` per object, as in `record_decision`.

        Returns
        -------
        list of int
            The new decisions' ids, in the order of `object_ids`.

        Raises
        ------
        SchemaError
            If any decision is refused; nothing is recorded then.
        """
        object_ids = [int(object_id) for object_id in object_ids]
        stored = stored_labels(decision, labels, len(object_ids))
        targets = _retraction_targets(decision, retracts, len(object_ids))
        check_text(reviewer, reason)
        with writing(self.path, self.timeout) as db:
            return insert(db, object_ids, decision, stored, targets, reviewer, run, reason)

    def record_bulk(
        self,
        object_ids: Sequence[int],
        decision: str,
        *,
        labels: Sequence[int | None] | None = None,
        reviewer: str,
        run: str | None = None,
        reason: str = "",
        seen: int,
        undecided_only: bool = False,
    ) -> BulkOutcome:
        """Decide about many objects in one write transaction, leaving out what changed since.

        The objects decided about (by anyone) after ledger state `seen`, and with
        `undecided_only` those with a decision in effect, are read inside the transaction that
        appends the new decisions, so no decision recorded in between is overwritten.

        Parameters
        ----------
        object_ids, decision, labels, reviewer, run, reason
            As in `record_decisions` (no retractions).
        seen
            The ledger state (`state`) that the reviewer was shown.
        undecided_only
            Leave out the objects that have a decision in effect.

        Returns
        -------
        BulkOutcome
            The new ids, the objects decided about and the objects left out, and why.

        Raises
        ------
        SchemaError
            If the decision is refused, or is a retraction; nothing is recorded then.
        """
        if decision == "retract":
            msg = "a retraction names the decision it retracts: use record_decisions"
            raise SchemaError(msg)
        object_ids = [int(object_id) for object_id in object_ids]
        stored = stored_labels(decision, labels, len(object_ids))
        check_text(reviewer, reason)
        with writing(self.path, self.timeout) as db:
            ids = json.dumps(object_ids)
            changed = {
                int(object_id)
                for (object_id,) in db.execute(
                    f"SELECT DISTINCT object_id FROM decisions WHERE {OF_OBJECTS} AND id > ?",
                    (ids, int(seen)),
                )
            }
            decided = set(in_effect(db, EVERY, ids)) - changed if undecided_only else set()
            keep = [k for k, oid in enumerate(object_ids) if oid not in changed | decided]
            recorded = [object_ids[k] for k in keep]
            labels_kept = [stored[k] for k in keep]
            new = insert(
                db, recorded, decision, labels_kept, [None] * len(keep), reviewer, run, reason
            )
        return BulkOutcome(new, recorded, _kept(object_ids, changed), _kept(object_ids, decided))

    def history(self, object_id: int) -> list[Decision]:
        """Return every decision about one object, retractions included, oldest first."""
        return self._select("WHERE object_id = ? ORDER BY id", (int(object_id),))

    def current(self, *, upto: int | None = None) -> dict[int, Decision]:
        """Return the state of each object: its latest decision in effect.

        Parameters
        ----------
        upto
            A ledger state (`state`): consider only decisions with ids up to it, to replay
            what a run used. By default, every decision.

        Returns
        -------
        dict of int to Decision
            Object id -> decision; an object whose decisions were all retracted is absent.
        """
        with reading(self.path, self.timeout) as db:
            return in_effect(db, EVERY if upto is None else int(upto))

    latest = current  # the name used before retractions existed

    def state(self) -> int:
        """Return the highest decision id (0 for an empty ledger)."""
        with reading(self.path, self.timeout) as db:
            (state,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM decisions").fetchone()
        return int(state)

    def table(
        self,
        *,
        reviewer: str | None = None,
        decision: str | None = None,
        run: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Decision]:
        """Return the decisions that match every filter given, newest first.

        Parameters
        ----------
        reviewer, decision, run
            Keep only decisions with this reviewer, decision or run.
        limit, offset
            Return at most `limit` of them (by default all), after skipping the `offset` newest:
            one page of the table.

        Returns
        -------
        list of Decision
            Retractions and retracted decisions included (those in effect are in `current`).
        """
        where, params = _filters(reviewer=reviewer, decision=decision, run=run)
        sql = f"{'WHERE ' + where if where else ''} ORDER BY id DESC LIMIT ? OFFSET ?"
        params = (*params, -1 if limit is None else int(limit), int(offset))
        with reading(self.path, self.timeout) as db:
            return select(db, sql, params)

    def size(
        self, *, reviewer: str | None = None, decision: str | None = None, run: str | None = None
    ) -> int:
        """Return how many decisions `table` has with these filters (all pages together)."""
        where, params = _filters(reviewer=reviewer, decision=decision, run=run)
        sql = f"SELECT COUNT(*) FROM decisions {'WHERE ' + where if where else ''}"
        with reading(self.path, self.timeout) as db:
            (n,) = db.execute(sql, params).fetchone()
        return int(n)

    def names(self, column: str) -> list[str]:
        """Return the distinct ``reviewer`` or ``run`` names of the decisions, sorted."""
        if column not in ("reviewer", "run"):
            msg = f"column must be 'reviewer' or 'run', got {column!r}"
            raise ValueError(msg)
        sql = f"SELECT DISTINCT {column} FROM decisions WHERE {column} IS NOT NULL ORDER BY 1"
        with reading(self.path, self.timeout) as db:
            return [name for (name,) in db.execute(sql)]

    def counts(
        self,
        *,
        reviewer: str | None = None,
        decision: str | None = None,
        run: str | None = None,
        upto: int | None = None,
    ) -> DecisionCounts:
        """Count the objects per state, class given and reviewer.

        Parameters
        ----------
        reviewer, decision, run
            Count only the objects whose state (in `current`) has this reviewer, decision or
            run.
        upto
            As in `current`.

        Returns
        -------
        DecisionCounts
            ``decision`` (every decision but retract, legacy ``reject`` where present),
            ``label`` (every `LABELS` name: the class approved or relabelled to) and
            ``reviewer`` counts.
        """
        where, params = _filters(reviewer=reviewer, decision=decision, run=run)
        upto = EVERY if upto is None else int(upto)
        with reading(self.path, self.timeout) as db:
            retracted = json.dumps(retractions_in_effect(db, upto))
            groups = db.execute(
                f"SELECT decision, label, reviewer, COUNT(*) FROM decisions"
                f" WHERE id IN ({IN_EFFECT}) {'AND ' + where if where else ''}"
                " GROUP BY decision, label, reviewer",
                (upto, retracted, *params),
            ).fetchall()
        return count_groups(groups)

    def _select(self, where: str, params: tuple[str | int, ...]) -> list[Decision]:
        with reading(self.path, self.timeout) as db:
            return select(db, where, params)


def _kept(object_ids: Iterable[int], chosen: set[int]) -> list[int]:
    """Return the objects of `object_ids` that are in `chosen`, in their order."""
    return [object_id for object_id in object_ids if object_id in chosen]


def _retraction_targets(decision: str, retracts: Sequence[int] | None, n: int) -> list[int | None]:
    """Return the decision each of `n` new decisions retracts (None for non-retractions)."""
    if decision != "retract":
        if retracts is not None:
            msg = f"only a retraction names a decision it retracts, not a {decision!r}"
            raise SchemaError(msg)
        return [None] * n
    targets: list[int | None] = [] if retracts is None else [int(t) for t in retracts]
    if len(targets) != n:
        msg = f"a retraction names the decision it retracts: got {len(targets)} for {n} objects"
        raise SchemaError(msg)
    if len(set(targets)) != n:
        msg = f"each decision can be retracted once, got {targets}"
        raise SchemaError(msg)
    return targets


def _filters(**filters: str | None) -> tuple[str, tuple[str, ...]]:
    """Return an SQL condition that every filter set holds, and its parameters."""
    given = {name: value for name, value in filters.items() if value is not None}
    return " AND ".join(f"{name} = ?" for name in given), tuple(given.values())

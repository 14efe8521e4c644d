"""The review ledger: an append-only SQLite table of the decisions people make.

Decisions are never updated or deleted: an object's state is computed from them
(`current`), and a retraction is a new decision that undoes an earlier one. The ledger's state
is its highest decision id, which a run records so the labels it used can be replayed.
Several processes may append at once (WAL mode, a busy timeout).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from store._ledger_db import open_ledger, reading, writing
from store._ledger_decisions import (
    DECISIONS,
    Decision,
    DecisionCounts,
    check_text,
    count,
    current_state,
    retracted_ids,
    stored_labels,
)
from store.errors import SchemaError
from store.schema import utc_now

__all__ = ["DECISIONS", "Decision", "DecisionCounts", "Ledger", "check_text"]

_COLUMNS = ", ".join(Decision._fields)
_INSERT = (
    f"INSERT INTO decisions ({', '.join(Decision._fields[1:])})"
    f" VALUES ({', '.join('?' * (len(Decision._fields) - 1))})"
)


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
        created = utc_now()
        ids = []
        with writing(self.path, self.timeout) as db:
            for object_id, label, target in zip(object_ids, stored, targets, strict=True):
                if target is not None:
                    _check_retractable(db, object_id, target)
                row = (created, reviewer, object_id, decision, label, run, reason, target)
                cursor = db.execute(_INSERT, row)
                ids.append(int(cursor.lastrowid or 0))
        return ids

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
        where = "" if upto is None else "WHERE id <= ?"
        return current_state(self._select(f"{where} ORDER BY id", () if upto is None else (upto,)))

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
    ) -> list[Decision]:
        """Return the decisions that match every filter given, newest first.

        Parameters
        ----------
        reviewer, decision, run
            Keep only decisions with this reviewer, decision or run.
        limit
            Return at most this many (the newest).

        Returns
        -------
        list of Decision
            Retractions and retracted decisions included (those in effect are in `current`).
        """
        given = _given(reviewer=reviewer, decision=decision, run=run)
        where = " AND ".join(f"{name} = ?" for name in given)
        params: tuple[str | int, ...] = tuple(given.values())
        sql = f"{'WHERE ' + where if where else ''} ORDER BY id DESC"
        if limit is not None:
            sql, params = f"{sql} LIMIT ?", (*params, int(limit))
        return self._select(sql, params)

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
        given = _given(reviewer=reviewer, decision=decision, run=run)
        state = self.current(upto=upto).values()
        return count(row for row in state if all(getattr(row, k) == v for k, v in given.items()))

    def _select(self, where: str, params: tuple[str | int, ...]) -> list[Decision]:
        with reading(self.path, self.timeout) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM decisions {where}", params).fetchall()
        return [Decision(*row) for row in rows]


def _given(**filters: str | None) -> dict[str, str]:
    """Return the filters that are set."""
    return {name: value for name, value in filters.items() if value is not None}


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


def _check_retractable(db: sqlite3.Connection, object_id: int, target: int) -> None:
    """Refuse to retract a decision that is missing, about another object, or not in effect."""
    rows = [
        Decision(*row)
        for row in db.execute(
            f"SELECT {_COLUMNS} FROM decisions WHERE object_id ="
            " (SELECT object_id FROM decisions WHERE id = ?) ORDER BY id",
            (target,),
        )
    ]
    if not rows:
        msg = f"cannot retract decision {target}: the ledger has no such decision"
        raise SchemaError(msg)
    if rows[0].object_id != object_id:
        msg = f"cannot retract decision {target}: it is about object {rows[0].object_id}"
        raise SchemaError(msg)
    if target in retracted_ids(rows):
        msg = (
            f"cannot retract decision {target}: it is retracted already"
            " (retract that retraction to put it back in effect)"
        )
        raise SchemaError(msg)

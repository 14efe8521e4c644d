"""The review ledger: an append-only SQLite table of the decisions people make.

Decisions are never updated or deleted; the latest decision about an object wins. The ledger's
state is its highest decision id, which a run records so the labels it used can be replayed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from store.errors import SchemaError
from store.schema import LABELS, utc_now

__all__ = ["DECISIONS", "Decision", "Ledger"]

DECISIONS: tuple[str, ...] = ("approve", "reject")
"""What a reviewer can say about a predicted label."""

_CREATE = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    label INTEGER NOT NULL,
    run TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS decisions_object ON decisions (object_id);
CREATE TRIGGER IF NOT EXISTS decisions_append_only_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END;
"""
_COLUMNS = "id, created, reviewer, object_id, decision, label, run, reason"


class Decision(NamedTuple):
    """One row of the ledger."""

    id: int
    created: str
    reviewer: str
    object_id: int
    decision: str
    label: int
    run: str | None
    reason: str


class Ledger:
    """The review ledger of a workspace (created on first use, WAL mode).

    Parameters
    ----------
    path
        The SQLite file, usually ``<workspace>/reviews.sqlite``.

    Examples
    --------
    >>> ledger = Ledger(tmp_path / "reviews.sqlite")  # doctest: +SKIP
    >>> ledger.record_decision(1237, "approve", label=1, reviewer="ana", run="r1")  # doctest: +SKIP
    1
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_CREATE)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """Open a connection for one transaction (committed on success) and close it."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def record_decision(
        self,
        object_id: int,
        decision: str,
        *,
        label: int,
        reviewer: str,
        run: str | None = None,
        reason: str = "",
    ) -> int:
        """Append one decision and return its id.

        Parameters
        ----------
        object_id
            The object's `object_id` in the catalog.
        decision
            ``"approve"`` (the label is right) or ``"reject"`` (it is wrong).
        label
            The label the decision is about, an index into `store.schema.LABELS`.
        reviewer
            Who decided.
        run
            The run whose prediction was reviewed.
        reason
            Free text, e.g. why a label was rejected.

        Raises
        ------
        SchemaError
            For an unknown decision, a label outside `LABELS` or an empty reviewer.
        """
        if decision not in DECISIONS:
            msg = f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}"
            raise SchemaError(msg)
        if label not in range(len(LABELS)):
            msg = f"label must be 0..{len(LABELS) - 1} ({', '.join(LABELS)}), got {label!r}"
            raise SchemaError(msg)
        if not reviewer.strip():
            msg = "reviewer must name who decided, got an empty name"
            raise SchemaError(msg)
        row = (utc_now(), reviewer, int(object_id), decision, int(label), run, reason)
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO decisions (created, reviewer, object_id, decision, label, run, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def history(self, object_id: int) -> list[Decision]:
        """Return every decision about one object, oldest first."""
        return self._select("WHERE object_id = ? ORDER BY id", (int(object_id),))

    def latest(self, *, upto: int | None = None) -> dict[int, Decision]:
        """Return the latest decision per object, considering decisions with id <= `upto`."""
        rows = self._select("WHERE id <= ? ORDER BY id", (self.state() if upto is None else upto,))
        return {row.object_id: row for row in rows}

    def state(self) -> int:
        """Return the highest decision id (0 for an empty ledger)."""
        with self._connect() as db:
            (state,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM decisions").fetchone()
        return int(state)

    def _select(self, where: str, params: tuple[int, ...]) -> list[Decision]:
        with self._connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM decisions {where}", params).fetchall()
        return [Decision(*row) for row in rows]

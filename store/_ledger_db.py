"""The review ledger's SQLite file: its schema, its migrations, its connections and errors.

The schema version is SQLite's ``PRAGMA user_version``: 0 is the first ledger (approve and
reject only, no retractions), 1 added retractions, `LEDGER_VERSION` (2) an index of the
retractions. SQLite cannot change a CHECK constraint, so the migration from 0 builds the new
table beside the old one, copies every row with its id, drops the old table and renames the new
one; every migration runs in one transaction. Every `sqlite3.Error` leaves this module as a
`store.StoreError` that says what happened and what to do.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from store._ledger_decisions import Decision, current_state, retracted_ids
from store.errors import (
    LedgerCorruptError,
    LedgerError,
    LedgerFullError,
    LedgerLockedError,
    SchemaError,
)
from store.schema import utc_now

__all__ = [
    "EVERY",
    "IN_EFFECT",
    "LEDGER_VERSION",
    "OF_OBJECTS",
    "check_retractable",
    "in_effect",
    "insert",
    "open_ledger",
    "reading",
    "retractions_in_effect",
    "select",
    "writing",
]

LEDGER_VERSION = 2
"""The schema version this code reads and writes."""

# Each version's SQL is frozen: a new version adds a migration, it never edits these.
_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    decision TEXT NOT NULL
        CHECK (decision IN ('approve', 'relabel', 'unsure', 'artefact', 'retract', 'reject')),
    label INTEGER NOT NULL CHECK ((decision IN ('approve', 'relabel', 'reject')) = (label >= 0)),
    run TEXT,
    reason TEXT NOT NULL DEFAULT '',
    retracts INTEGER CHECK ((decision = 'retract') = (retracts IS NOT NULL))
)
"""
_INDEX_AND_TRIGGERS = (
    "CREATE INDEX decisions_object ON decisions (object_id)",
    "CREATE TRIGGER decisions_append_only_update BEFORE UPDATE ON decisions"
    " BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END",
    "CREATE TRIGGER decisions_append_only_delete BEFORE DELETE ON decisions"
    " BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END",
)
_OLD_COLUMNS = "id, created, reviewer, object_id, decision, label, run, reason"
_MIGRATE_FROM_0 = (
    _TABLE.format(name="decisions_v1"),
    f"INSERT INTO decisions_v1 ({_OLD_COLUMNS}) SELECT {_OLD_COLUMNS} FROM decisions ORDER BY id",
    "DROP TABLE decisions",
    "ALTER TABLE decisions_v1 RENAME TO decisions",
    *_INDEX_AND_TRIGGERS,
)
_MIGRATE_FROM_1 = (
    # The retractions alone, so the state is computed without reading every decision.
    "CREATE INDEX decisions_retractions ON decisions (retracts) WHERE retracts IS NOT NULL",
)
_CREATE = (_TABLE.format(name="decisions"), *_INDEX_AND_TRIGGERS, *_MIGRATE_FROM_1)
_MIGRATIONS = {0: (*_MIGRATE_FROM_0, *_MIGRATE_FROM_1), 1: _MIGRATE_FROM_1}

_PRIMARY = 0xFF  # an extended result code's primary part
_IOERR_SHMSIZE = sqlite3.SQLITE_IOERR | (19 << 8)  # SQLITE_IOERR_SHMSIZE, not in Python 3.11
_NEARLY_FULL = 1 << 16  # bytes free on a disk too full for SQLite to write a page


def _store_error(error: sqlite3.Error, path: Path, timeout: float) -> Exception:
    """Return the store error that says what an SQLite error means for the ledger at `path`."""
    code = getattr(error, "sqlite_errorcode", 0) & _PRIMARY
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        msg = (
            f"the review ledger {path} was locked by another program for more than"
            f" {timeout:g} s: try again when it has finished writing, or stop it"
        )
        return LedgerLockedError(msg)
    if code == sqlite3.SQLITE_NOTADB:
        return SchemaError(f"{path} is not a review ledger (not an SQLite file): move it away")
    if code == sqlite3.SQLITE_FULL or _disk_full(error, path):
        msg = (
            f"the disk that holds the review ledger {path} is full ({error}): nothing of this"
            " action was saved; free space on that disk and try again"
        )
        return LedgerFullError(msg)
    if code == sqlite3.SQLITE_CORRUPT:
        msg = (
            f"the review ledger {path} is damaged ({error}): nothing of this action was saved;"
            " restore it from a backup"
        )
        return LedgerCorruptError(msg)
    msg = (
        f"the review ledger {path} could not be read or written ({error}): nothing of this"
        " action was saved; check the file and its disk, then try again"
    )
    return LedgerError(msg)


def _disk_full(error: sqlite3.Error, path: Path) -> bool:
    """Whether an I/O error came from a full disk (SQLite reports some of those as I/O errors)."""
    code = getattr(error, "sqlite_errorcode", 0)
    if code & _PRIMARY != sqlite3.SQLITE_IOERR:
        return False
    if code == _IOERR_SHMSIZE:  # the shared-memory file next to the ledger could not grow
        return True
    try:
        return shutil.disk_usage(path.parent).free < _NEARLY_FULL
    except OSError:
        return False


@contextmanager
def reading(path: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """Yield a connection in autocommit mode, with SQLite's errors as store errors; close it."""
    db = None
    try:
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        yield db
    except sqlite3.Error as error:
        raise _store_error(error, path, timeout) from error
    finally:
        if db is not None:
            db.close()


@contextmanager
def writing(path: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """Yield a connection inside a write transaction, committed only if the block succeeds."""
    with reading(path, timeout) as db:
        db.execute("BEGIN IMMEDIATE")  # take the write lock now, waiting up to `timeout`
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the first error is the one to tell
                    db.execute("ROLLBACK")
            raise


def open_ledger(path: Path, timeout: float) -> None:
    """Create the ledger file (WAL mode), or migrate it to `LEDGER_VERSION`, if needed.

    Raises
    ------
    SchemaError
        If the file was written by a newer version, or is not an SQLite file.
    LedgerError
        If the file cannot be read or written (`LedgerLockedError` if another program holds it
        longer than `timeout` seconds).
    """
    with reading(path, timeout) as db:
        if _version(db, path) == LEDGER_VERSION:
            return
        db.execute("PRAGMA journal_mode=WAL")
    with writing(path, timeout) as db:
        version = _version(db, path)
        if version == LEDGER_VERSION:  # another process was faster
            return
        has_table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'"
        ).fetchone()
        for statement in _MIGRATIONS[version] if has_table else _CREATE:
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {LEDGER_VERSION}")


def _version(db: sqlite3.Connection, path: Path) -> int:
    """Return the file's schema version, refusing one newer than this code's."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > LEDGER_VERSION:
        msg = (
            f"the review ledger {path} has schema version {version}, newer than this galcore's"
            f" {LEDGER_VERSION}: update galcore"
        )
        raise SchemaError(msg)
    return int(version)


# Queries, run on a connection from `reading` or `writing`.

COLUMNS = ", ".join(Decision._fields)
INSERT = (
    f"INSERT INTO decisions ({', '.join(Decision._fields[1:])})"
    f" VALUES ({', '.join('?' * (len(Decision._fields) - 1))})"
)
EVERY = 2**63 - 1  # a ledger state past every decision
IN_EFFECT = (
    "SELECT MAX(id) FROM decisions WHERE decision <> 'retract' AND id <= ?"
    " AND id NOT IN (SELECT value FROM json_each(?)) GROUP BY object_id"
)
"""The ids of the decisions in effect: each object's latest that no retraction in effect names."""
OF_OBJECTS = "object_id IN (SELECT value FROM json_each(?))"


def select(db: sqlite3.Connection, where: str, params: tuple[str | int, ...]) -> list[Decision]:
    """Return the ledger rows that an SQL ``WHERE ... ORDER BY ...`` clause picks."""
    return [
        Decision(*row) for row in db.execute(f"SELECT {COLUMNS} FROM decisions {where}", params)
    ]


def retractions_in_effect(db: sqlite3.Connection, upto: int) -> list[int]:
    """Return the ids that the retractions in effect up to state `upto` take out of effect."""
    return sorted(
        retracted_ids(select(db, "WHERE retracts IS NOT NULL AND id <= ? ORDER BY id", (upto,)))
    )


def in_effect(
    db: sqlite3.Connection, upto: int, object_ids: str | None = None
) -> dict[int, Decision]:
    """Return the decisions in effect up to state `upto` (of the objects of a JSON list)."""
    if object_ids is not None:  # a few objects: their rows hold every retraction about them
        return current_state(
            select(db, f"WHERE {OF_OBJECTS} AND id <= ? ORDER BY id", (object_ids, upto))
        )
    retracted = json.dumps(retractions_in_effect(db, upto))
    rows = select(db, f"WHERE id IN ({IN_EFFECT}) ORDER BY id", (upto, retracted))
    return {row.object_id: row for row in rows}


def insert(
    db: sqlite3.Connection,
    object_ids: Sequence[int],
    decision: str,
    labels: Sequence[int],
    targets: Sequence[int | None],
    reviewer: str,
    run: str | None,
    reason: str,
) -> list[int]:
    """Append one decision per object inside the open transaction; return their ids."""
    created = utc_now()
    ids = []
    for object_id, label, target in zip(object_ids, labels, targets, strict=True):
        if target is not None:
            check_retractable(db, object_id, target)
        row = (created, reviewer, object_id, decision, label, run, reason, target)
        ids.append(int(db.execute(INSERT, row).lastrowid or 0))
    return ids


def check_retractable(db: sqlite3.Connection, object_id: int, target: int) -> None:
    """Refuse to retract a decision that is missing, about another object, or not in effect."""
    rows = select(
        db,
        "WHERE object_id = (SELECT object_id FROM decisions WHERE id = ?) ORDER BY id",
        (target,),
    )
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

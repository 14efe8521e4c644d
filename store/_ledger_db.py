"""The review ledger's SQLite file: its schema, its migration and its connections.

The schema version is SQLite's ``PRAGMA user_version``: 0 is the first ledger (approve and
reject only, no retractions), `LEDGER_VERSION` the current one. SQLite cannot change a CHECK
constraint, so a migration builds the new table beside the old one, copies every row with its
id, drops the old table and renames the new one, all in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store.errors import LedgerLockedError, SchemaError

__all__ = ["LEDGER_VERSION", "open_ledger", "reading", "writing"]

LEDGER_VERSION = 1
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
_CREATE = (_TABLE.format(name="decisions"), *_INDEX_AND_TRIGGERS)
_OLD_COLUMNS = "id, created, reviewer, object_id, decision, label, run, reason"
_MIGRATE_FROM_0 = (
    _TABLE.format(name="decisions_v1"),
    f"INSERT INTO decisions_v1 ({_OLD_COLUMNS}) SELECT {_OLD_COLUMNS} FROM decisions ORDER BY id",
    "DROP TABLE decisions",
    "ALTER TABLE decisions_v1 RENAME TO decisions",
    *_INDEX_AND_TRIGGERS,
)


@contextmanager
def reading(path: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """Yield a connection in autocommit mode, with SQLite's errors as store errors; close it."""
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        yield db
    except sqlite3.DatabaseError as error:
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary result code
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            msg = (
                f"the review ledger {path} was locked by another program for more than"
                f" {timeout:g} s: try again when it has finished writing, or stop it"
            )
            raise LedgerLockedError(msg) from error
        if code == sqlite3.SQLITE_NOTADB:
            msg = f"{path} is not a review ledger (not an SQLite file): move it away"
            raise SchemaError(msg) from error
        raise
    finally:
        db.close()


@contextmanager
def writing(path: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """Yield a connection inside a write transaction, committed only if the block succeeds."""
    with reading(path, timeout) as db:
        db.execute("BEGIN IMMEDIATE")  # take the write lock now, waiting up to `timeout`
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def open_ledger(path: Path, timeout: float) -> None:
    """Create the ledger file (WAL mode), or migrate it to `LEDGER_VERSION`, if needed.

    Raises
    ------
    SchemaError
        If the file was written by a newer version, or is not an SQLite file.
    LedgerLockedError
        If another program holds the file longer than `timeout` seconds.
    """
    with reading(path, timeout) as db:
        if _version(db, path) == LEDGER_VERSION:
            return
        db.execute("PRAGMA journal_mode=WAL")
    with writing(path, timeout) as db:
        if _version(db, path) == LEDGER_VERSION:  # another process was faster
            return
        has_table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'"
        ).fetchone()
        for statement in _MIGRATE_FROM_0 if has_table else _CREATE:
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

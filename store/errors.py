"""Exceptions raised by the store."""

from __future__ import annotations

__all__ = [
    "CatalogReplacedError",
    "DiskFullError",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerFullError",
    "LedgerLockedError",
    "RunExistsError",
    "SchemaError",
    "StoreError",
    "StoreNotFoundError",
]


class StoreError(Exception):
    """Base class of every store error."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """The workspace has no catalog (or no run of that name)."""


class SchemaError(StoreError, ValueError):
    """The catalog does not match the schema this code reads and writes."""


class RunExistsError(StoreError, FileExistsError):
    """A run of that name exists already; runs are never overwritten."""


class CatalogReplacedError(StoreError):
    """The catalog was replaced by another curation since a page was built from it."""


class LedgerError(StoreError):
    """The review ledger could not be read or written; a failed write saved nothing."""


class DiskFullError(StoreError, OSError):
    """The disk filled up while the catalog was written; the catalog is as it was."""


class LedgerLockedError(LedgerError, TimeoutError):
    """Another process held the review ledger longer than the busy timeout."""


class LedgerFullError(LedgerError, OSError):
    """The disk that holds the review ledger is full."""


class LedgerCorruptError(LedgerError):
    """The review ledger's file is damaged."""

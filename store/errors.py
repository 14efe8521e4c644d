"""Exceptions raised by the store."""

from __future__ import annotations

__all__ = [
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


class LedgerLockedError(StoreError, TimeoutError):
    """Another process held the review ledger longer than the busy timeout."""

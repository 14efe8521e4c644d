"""Persistence: the Zarr catalog schema and I/O, and the review ledger.

This package imports neither TensorFlow nor Panel, and its names load on first use: a
command that needs only `store.selection` (the CLI's parsers) does not pay for zarr.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "BulkOutcome": "store.ledger",
    "Catalog": "store.catalog",
    "CatalogAppender": "store._catalog_append",
    "CatalogReplacedError": "store.errors",
    "CatalogSink": "store._catalog_writer",
    "CatalogWriter": "store._catalog_writer",
    "DECISIONS": "store.ledger",
    "Decision": "store.ledger",
    "DecisionCounts": "store.ledger",
    "DiskFullError": "store.errors",
    "LABELLED": "store._ledger_decisions",
    "LABELS": "store.schema",
    "Ledger": "store.ledger",
    "LedgerCorruptError": "store.errors",
    "LedgerError": "store.errors",
    "LedgerFullError": "store.errors",
    "LedgerLockedError": "store.errors",
    "NO_LABEL": "store.schema",
    "PAST_TENSE": "store._ledger_decisions",
    "RUN_NAME_RULE": "store.runs",
    "Run": "store.catalog",
    "RowBlocks": "store.blocks",
    "RunExistsError": "store.errors",
    "RunNameError": "store.runs",
    "RunStatus": "store.runs",
    "SETS": "store.schema",
    "STATES": "store._ledger_decisions",
    "STATE_NAMES": "store._ledger_decisions",
    "SURVEYS": "store.schema",
    "SchemaError": "store.errors",
    "StoreError": "store.errors",
    "StoreNotFoundError": "store.errors",
    "Workspace": "store.workspace",
    "check_run_name": "store.runs",
    "is_run_name": "store.runs",
    "set_mask": "store.schema",
    "sets_code": "store.schema",
}
"""Each public name and the module that defines it."""

__all__ = [
    "DECISIONS",
    "LABELLED",
    "LABELS",
    "NO_LABEL",
    "PAST_TENSE",
    "RUN_NAME_RULE",
    "SETS",
    "STATES",
    "STATE_NAMES",
    "SURVEYS",
    "BulkOutcome",
    "Catalog",
    "CatalogAppender",
    "CatalogReplacedError",
    "CatalogSink",
    "CatalogWriter",
    "Decision",
    "DecisionCounts",
    "DiskFullError",
    "Ledger",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerFullError",
    "LedgerLockedError",
    "RowBlocks",
    "Run",
    "RunExistsError",
    "RunNameError",
    "RunStatus",
    "SchemaError",
    "StoreError",
    "StoreNotFoundError",
    "Workspace",
    "check_run_name",
    "is_run_name",
    "set_mask",
    "sets_code",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """Import a public name from its module on first use."""
    if name not in _HOMES:
        msg = f"module 'store' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value

"""Persistence: the Zarr catalog schema and I/O, and the review ledger.

This package imports neither TensorFlow nor Panel.
"""

from __future__ import annotations

from store._catalog_append import CatalogAppender
from store._catalog_writer import CatalogSink, CatalogWriter
from store._ledger_decisions import LABELLED, PAST_TENSE, STATE_NAMES, STATES
from store.catalog import Catalog, Run
from store.errors import (
    CatalogReplacedError,
    DiskFullError,
    LedgerCorruptError,
    LedgerError,
    LedgerFullError,
    LedgerLockedError,
    RunExistsError,
    SchemaError,
    StoreError,
    StoreNotFoundError,
)
from store.ledger import DECISIONS, BulkOutcome, Decision, DecisionCounts, Ledger
from store.runs import RUN_NAME_RULE, RunNameError, RunStatus, check_run_name, is_run_name
from store.schema import LABELS, NO_LABEL, SETS, SURVEYS, set_mask, sets_code
from store.workspace import Workspace

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

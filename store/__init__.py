"""Persistence: the Zarr catalog schema and I/O, and the review ledger.

This package imports neither TensorFlow nor Panel.
"""

from __future__ import annotations

from store._catalog_append import CatalogAppender
from store.catalog import Catalog, CatalogWriter, Run
from store.errors import (
    LedgerLockedError,
    RunExistsError,
    SchemaError,
    StoreError,
    StoreNotFoundError,
)
from store.ledger import DECISIONS, Decision, DecisionCounts, Ledger
from store.schema import LABELS, NO_LABEL, SETS, SURVEYS, set_mask, sets_code
from store.workspace import Workspace

__all__ = [
    "DECISIONS",
    "LABELS",
    "NO_LABEL",
    "SETS",
    "SURVEYS",
    "Catalog",
    "CatalogAppender",
    "CatalogWriter",
    "Decision",
    "DecisionCounts",
    "Ledger",
    "LedgerLockedError",
    "Run",
    "RunExistsError",
    "SchemaError",
    "StoreError",
    "StoreNotFoundError",
    "Workspace",
    "set_mask",
    "sets_code",
]

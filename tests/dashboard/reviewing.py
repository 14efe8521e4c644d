"""Decisions recorded the way the grid records them, for tests that need some in the ledger."""

from __future__ import annotations

from dashboard.data_store import GalaxyStore


def decide_rows(
    store: GalaxyStore, rows: list[int], decision: str, *, reason: str = ""
) -> list[int]:
    """Record `decision` about the galaxies of catalog `rows` as shown now; return the new ids."""
    shown = store.show(rows, store.catalog_id())
    return store.decide_shown(shown, decision, reason=reason).ids

"""Decisions recorded the way the grid records them, for tests that need some in the ledger."""

from __future__ import annotations

from dashboard.session import ReviewSession


def decide_rows(
    session: ReviewSession, rows: list[int], decision: str, *, reason: str = ""
) -> list[int]:
    """Record `decision` about the galaxies of catalog `rows` as shown now; return the new ids."""
    shown = session.show(rows, session.catalog_id())
    return session.decide_shown(shown, decision, reason=reason).ids

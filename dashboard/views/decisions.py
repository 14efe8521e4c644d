"""The review ledger's decisions as a read-only table, with filters, counts and pages.

The table shows one page (`PAGE_SIZE` decisions, newest first) read from the ledger, never the
whole ledger; the counts and the number of pages are counted by the ledger too. The view
follows `ReviewSession.ledger_state`, and, while served, reads the ledger's state every
`POLL_PERIOD_MS` milliseconds (`ReviewSession.refresh_ledger`), so every view of a session shows
the decisions other reviewers record within seconds.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import panel as pn
import param

from dashboard.views.base import View
from store import DECISIONS, LABELS, Decision, DecisionCounts

__all__ = [
    "ALL",
    "PAGE_SIZE",
    "POLL_PERIOD_MS",
    "DecisionsView",
    "make_counts_html",
    "make_decisions_frame",
]

ALL = "all"
"""The filter value that keeps every decision."""

POLL_PERIOD_MS = 2000
"""How often a served view reads the ledger's state, in milliseconds."""

PAGE_SIZE = 50
"""Decisions per page of the table."""

_COLUMNS = ("id", "created", "reviewer", "object_id", "decision", "label", "run", "reason")
_TYPED = ("reviewer", "run", "reason")
_FILTERS = ("decision", "reviewer", "run")


def make_decisions_frame(decisions: Sequence[Decision]) -> pd.DataFrame:
    """Return decisions as a table, one row each, in the order given.

    Parameters
    ----------
    decisions
        Ledger rows (`store.Ledger.table`).

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``created``, ``reviewer``, ``object_id`` (text: ids exceed 2**53,
        which a browser cannot show exactly), ``decision``, ``label`` (the class name, empty
        for none), ``run``, ``reason`` and ``retracts`` (the retracted decision's id, empty
        for none).
    """
    rows = [
        {
            **{name: getattr(row, name) for name in _COLUMNS},
            "object_id": str(row.object_id),
            "label": LABELS[row.label] if row.label >= 0 else "",
            "run": row.run or "",
            "retracts": "" if row.retracts is None else str(row.retracts),
        }
        for row in decisions
    ]
    return pd.DataFrame(rows, columns=[*_COLUMNS, "retracts"])


def _count_table(title: str, counts: Mapping[str, int]) -> str:
    """Return one escaped two-column HTML table of counts."""
    body = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{n}</td></tr>" for name, n in counts.items()
    )
    return f"<table><tr><th>{title}</th><th>galaxies</th></tr>{body}</table>"


def make_counts_html(counts: DecisionCounts) -> str:
    """Return the numbers of galaxies per state, per class given and per reviewer, as HTML.

    Parameters
    ----------
    counts
        From `store.Ledger.counts`.

    Returns
    -------
    str
        Three tables side by side; reviewer names are escaped.
    """
    tables = (
        _count_table("decision", counts.decision),
        _count_table("class given", counts.label),
        _count_table("reviewer", counts.reviewer),
    )
    return f'<div style="display: flex; gap: 2em">{"".join(tables)}</div>'


class DecisionsView(View):
    """The ledger's decisions, newest first, filtered by reviewer, decision and run."""

    decision = param.Selector(
        default=ALL, objects=[ALL, *DECISIONS], doc="Show only this kind of decision."
    )
    page = param.Integer(
        default=0, bounds=(0, None), doc="The page of the table shown (0: the newest decisions)."
    )
    reviewer = param.Selector(
        default=ALL, objects=[ALL], doc="Show only the decisions of this reviewer."
    )
    run = param.Selector(
        default=ALL, objects=[ALL], doc="Show only the decisions about this run's predictions."
    )

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self._table = pn.widgets.Tabulator(
            make_decisions_frame([]),
            disabled=True,
            show_index=False,
            formatters=dict.fromkeys(_TYPED, "plaintext"),
            sizing_mode="stretch_width",
        )
        self._counts = pn.pane.HTML(sizing_mode="stretch_width")
        self._page_text = pn.pane.Markdown()
        self._pages = 1
        self._poll: pn.io.PeriodicCallback | None = None
        self._refresh()

    @property
    def filters(self) -> dict[str, str | None]:
        """The filters set, as keyword arguments of `store.Ledger.table` and `counts`."""
        values = {name: getattr(self, name) for name in _FILTERS}
        return {name: None if value == ALL else value for name, value in values.items()}

    def turn(self, step: int) -> None:
        """Go `step` pages towards older decisions (negative: newer), stopping at the ends."""
        self.page = max(0, min(self.page + step, self._pages - 1))

    @param.depends(*_FILTERS, watch=True)
    def _on_filters(self) -> None:
        """Show the newest decisions that pass changed filters."""
        if self.page:
            self.page = 0  # which refreshes
        else:
            self._refresh()

    @param.depends("page", "session.ledger_state", watch=True)
    def _refresh(self) -> None:
        """Read the ledger: the filters' choices, one page of the table and the counts."""
        ledger = self.session.ledger
        runs = set(ledger.names("run")) | set(self.session.param.run.objects)
        self.param.reviewer.objects = [ALL, *ledger.names("reviewer")]
        self.param.run.objects = [ALL, *sorted(runs)]
        filters = self.filters
        total = ledger.size(**filters)
        self._pages = max(1, -(-total // PAGE_SIZE))
        page = min(self.page, self._pages - 1)
        rows = ledger.table(**filters, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
        self._table.value = make_decisions_frame(rows)
        first = page * PAGE_SIZE + 1 if rows else 0
        self._page_text.object = (
            f"Decisions {first} to {page * PAGE_SIZE + len(rows)} of {total}"
            f" · page {page + 1} of {self._pages}"
        )
        self._counts.object = make_counts_html(ledger.counts(**filters))

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the filters, the counts and the table; poll the ledger in a server session."""
        session = pn.state.curdoc and pn.state.curdoc.session_context
        if session and self._poll is None:
            self._poll = pn.state.add_periodic_callback(
                self.session.refresh_ledger, period=POLL_PERIOD_MS
            )
        newer = pn.widgets.Button(name="◀ Newer")
        newer.on_click(lambda _: self.turn(-1))
        older = pn.widgets.Button(name="Older ▶")
        older.on_click(lambda _: self.turn(1))
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.reviewer),
                pn.widgets.Select.from_param(self.param.decision),
                pn.widgets.Select.from_param(self.param.run),
            ),
            self._counts,
            pn.Row(newer, self._page_text, older),
            self._table,
            sizing_mode="stretch_width",
        )

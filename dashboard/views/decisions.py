"""The review ledger's decisions as a read-only table, with filters and counts.

The view follows `GalaxyStore.ledger_state`, and, while served, reads the ledger's state every
`POLL_PERIOD_MS` milliseconds (`GalaxyStore.refresh_ledger`), so every view of a session shows
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
    "POLL_PERIOD_MS",
    "TABLE_LIMIT",
    "DecisionsView",
    "make_counts_html",
    "make_decisions_frame",
]

ALL = "all"
"""The filter value that keeps every decision."""

POLL_PERIOD_MS = 2000
"""How often a served view reads the ledger's state, in milliseconds."""

TABLE_LIMIT = 5000
"""The table shows at most this many decisions, the newest."""

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
            pagination="local",
            page_size=20,
            formatters=dict.fromkeys(_TYPED, "plaintext"),
            sizing_mode="stretch_width",
        )
        self._counts = pn.pane.HTML(sizing_mode="stretch_width")
        self._poll: pn.io.PeriodicCallback | None = None
        self._refresh()

    @property
    def filters(self) -> dict[str, str | None]:
        """The filters set, as keyword arguments of `store.Ledger.table` and `counts`."""
        values = {name: getattr(self, name) for name in _FILTERS}
        return {name: None if value == ALL else value for name, value in values.items()}

    @param.depends(*_FILTERS, "store.ledger_state", watch=True)
    def _refresh(self) -> None:
        """Read the ledger: the filters' choices, the table and the counts."""
        ledger = self.store.ledger
        everything = ledger.table()
        runs = {row.run for row in everything if row.run} | set(self.store.param.run.objects)
        self.param.reviewer.objects = [ALL, *sorted({row.reviewer for row in everything})]
        self.param.run.objects = [ALL, *sorted(runs)]
        filters = self.filters
        self._table.value = make_decisions_frame(ledger.table(**filters, limit=TABLE_LIMIT))
        self._counts.object = make_counts_html(ledger.counts(**filters))

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the filters, the counts and the table; poll the ledger in a server session."""
        session = pn.state.curdoc and pn.state.curdoc.session_context
        if session and self._poll is None:
            self._poll = pn.state.add_periodic_callback(
                self.store.refresh_ledger, period=POLL_PERIOD_MS
            )
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.reviewer),
                pn.widgets.Select.from_param(self.param.decision),
                pn.widgets.Select.from_param(self.param.run),
            ),
            self._counts,
            self._table,
            sizing_mode="stretch_width",
        )

"""Approve or relabel the selected galaxy's predicted class; see who decided what, and when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn
import param

from dashboard.notices import decision_problem
from dashboard.text import plain
from dashboard.views.base import View
from store import LABELS, PAST_TENSE, Decision, StoreError

__all__ = ["ReviewView", "make_history_markdown", "make_status_line"]


def make_status_line(history: Sequence[Decision]) -> str:
    """Say what the latest decision about a galaxy was.

    Parameters
    ----------
    history
        The galaxy's decisions, oldest first.

    Returns
    -------
    str
        E.g. ``"**approved** as spiral by ana (2024-05-01T10:00:00+00:00, run r1)"``.

    Examples
    --------
    >>> make_status_line([])
    'Not reviewed yet.'
    """
    if not history:
        return "Not reviewed yet."
    last = history[-1]
    label = f" as {LABELS[last.label]}" if last.label >= 0 else ""
    return (
        f"**{PAST_TENSE[last.decision]}**{label} by {plain(last.reviewer)}"
        f" ({last.created}, run {plain(str(last.run))})"
    )


def make_history_markdown(history: Sequence[Decision]) -> str:
    """Return a galaxy's decisions as a Markdown table, oldest first (empty for none).

    Parameters
    ----------
    history
        The galaxy's decisions, oldest first.

    Returns
    -------
    str
        Markdown text.
    """
    if not history:
        return ""
    rows = [
        f"| {row.created} | {plain(row.reviewer)} | {row.decision} |"
        f" {LABELS[row.label] if row.label >= 0 else ''} | {plain(str(row.run))} |"
        for row in history
    ]
    header = ["| When | Who | Decision | Label | Run |", "|---|---|---|---|---|"]
    return "\n".join(header + rows)


class ReviewView(View):
    """Approve / relabel buttons for the selected galaxy, its review status and history.

    Decisions go to the workspace's review ledger through `ReviewSession.decide`.
    """

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self._error = pn.pane.Alert(alert_type="danger", visible=False)

    @param.depends("session.ledger_state", "session.selected_row")
    def _status(self) -> str:
        """Say what the latest decision about the selected galaxy was."""
        return make_status_line(self.session.history) if self.session.galaxy else ""

    @param.depends("session.ledger_state", "session.selected_row")
    def _history(self) -> str:
        """List the decisions about the selected galaxy."""
        return make_history_markdown(self.session.history)

    def _decide(self, decision: str) -> None:
        """Record a decision, or show why it could not be recorded."""
        try:
            self.session.decide(decision)
        except (ValueError, StoreError) as error:
            # The message may quote what a person typed (a refused reviewer name): as text.
            self._error.object = plain(decision_problem(error, decision))
            self._error.visible = True
        else:
            self._error.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the reviewer input, the buttons, the status and the history."""
        approve = pn.widgets.Button(name="Approve", button_type="success")
        relabel = pn.widgets.Button(name="Relabel", button_type="danger")
        approve.on_click(lambda _: self._decide("approve"))
        relabel.on_click(lambda _: self._decide("relabel"))
        return pn.Column(
            pn.Row(approve, relabel),
            pn.pane.Markdown(self._status),
            self._error,
            pn.pane.Markdown(self._history, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

"""What the page says about bad input, instead of breaking: the messages and their panes.

A workspace without runs, a run without predictions or an embedding, an image that cannot be
read, a busy review ledger and a link (URL) naming an unknown run or row each get one clear
message; names from files and from links reach Markdown as plain text (`dashboard.text.plain`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

import panel as pn
import param
from panel.util import parse_query

from dashboard.data import Galaxy
from dashboard.run_state import missing_message, no_run_message
from dashboard.session import ReviewSession
from dashboard.text import plain
from dashboard.thumbnails import ImageUnavailableError, thumbnail_png
from store import LedgerLockedError, StoreError, Workspace

__all__ = [
    "apply_url_args",
    "decision_problem",
    "image_problem",
    "markdown_text",
    "missing_alert",
    "page_notices",
]

_LONGEST = 80

markdown_text = plain
"""Text (a file name, what a link or a person gave) as plain Markdown: `dashboard.text.plain`."""


def missing_alert(session: ReviewSession, array: str) -> pn.pane.Alert:
    """Return a warning that follows the session's run and shows while the run lacks `array`.

    Parameters
    ----------
    session
        The dashboard session.
    array
        ``"probs"`` or ``"embedding"`` (see `dashboard.run_state.missing_message`).

    Returns
    -------
    panel.pane.Alert
        Hidden while the run has the array.
    """
    alert = pn.pane.Alert(alert_type="warning", visible=False, sizing_mode="stretch_width")

    def update(*_: param.parameterized.Event) -> None:
        try:
            text = missing_message(session.workspace, session.run, array)
        except StoreError as error:  # the run went away
            text = str(error)
        alert.param.update(object=markdown_text(text), visible=bool(text))

    session.param.watch(update, "run")
    update()
    return alert


def decision_problem(error: Exception, decision: str) -> str:
    """Say why a decision was not recorded: a busy ledger gets what to do about it.

    Examples
    --------
    >>> decision_problem(ValueError("select a galaxy first"), "approve")
    'select a galaxy first'
    """
    if isinstance(error, LedgerLockedError):
        return (
            f"Not recorded: the review ledger is busy (another program is writing to it), so"
            f" nothing of this '{decision}' was saved; try again in a moment. The decisions"
            f" recorded before are kept."
        )
    return str(error)


def image_problem(workspace: Workspace, galaxy: Galaxy | None) -> str:
    """Say that a galaxy's stored image cannot be read (empty if it can, or for None).

    Examples
    --------
    >>> image_problem(Workspace("ws"), None)
    ''
    """
    if galaxy is None:
        return ""
    try:
        thumbnail_png(workspace, galaxy.row)
    except ImageUnavailableError as error:
        problem = str(error).splitlines()[0]
        return (
            f"The image of {galaxy.survey.upper()} {galaxy.object_id} (catalog row"
            f" {galaxy.row}) could not be read: {problem}. A placeholder is shown."
        )
    return ""


def _url_problem(session: ReviewSession, name: str, key: str, text: str) -> str:
    """Say why the link's value `text` of query key `key` (session parameter `name`) is unused."""
    quoted = repr(text if len(text) <= _LONGEST else text[:_LONGEST] + "…")
    if name == "run":
        runs = ", ".join(session.param.run.objects)
        has = f"its runs: {runs}" if runs else "it has no run yet"
        shown = f"run {session.run} is shown" if session.run else "no run is shown"
        return f"The link asks for run {quoted}, which this workspace lacks ({has}): {shown}."
    if name == "selected_row":
        low, high = session.param.selected_row.bounds
        return (
            f"The link asks for catalog row {quoted}, which is not a galaxy of this catalog"
            f" (rows {low} to {high}): no galaxy is opened from it."
        )
    return f"The link's {key}={quoted} is not valid here: it was ignored."


def apply_url_args(
    session: ReviewSession, args: Mapping[str, Sequence[bytes]], parameters: Mapping[str, str]
) -> list[str]:
    """Apply the link's query values to the session one by one; say which could not be applied.

    Panel applies a link's values all at once and silently drops them all when one is bad;
    this applies each valid one (in the order of `parameters`) and names the others.

    Parameters
    ----------
    session
        The dashboard session.
    args
        The request's query arguments (``pn.state.session_args``).
    parameters
        Store parameter -> query key, e.g. ``{"run": "run", "selected_row": "row"}``.

    Returns
    -------
    list of str
        One message per value left unused.
    """
    problems = []
    for name, key in parameters.items():
        if not args.get(key):
            continue
        text = args[key][-1].decode("utf-8", "replace")
        value = parse_query("?" + urlencode({key: text})).get(key, text)  # as Panel reads it
        if value == getattr(session, name):
            continue
        try:
            setattr(session, name, value)
        except (ValueError, TypeError, StoreError):
            problems.append(_url_problem(session, name, key, text))
    return problems


def page_notices(
    session: ReviewSession, args: Mapping[str, Sequence[bytes]], parameters: Mapping[str, str]
) -> list[pn.pane.Alert]:
    """Return the warnings shown above the page: no run yet, and what the link got wrong.

    Parameters
    ----------
    session, args, parameters
        As in `apply_url_args`, which this calls.

    Returns
    -------
    list of panel.pane.Alert
        Empty when there is nothing to say.
    """
    texts = [] if session.param.run.objects else [no_run_message(session.workspace)]
    texts += apply_url_args(session, args, parameters)
    return [
        pn.pane.Alert(markdown_text(text), alert_type="warning", sizing_mode="stretch_width")
        for text in texts
    ]

"""A page of thumbnails from a review queue or the selection, with decisions on many at once.

The cells' HTML comes from `dashboard.views.grid_cells`, and the browser side that shows them
from `dashboard.views.thumbnail_grid`. Clicking a thumbnail opens that galaxy (`selected_row`).

A decision applies to the opened galaxy, to this page or to the whole selection; on a page or
a selection it goes only to the galaxies that have no decision yet (and, to approve or
relabel, a prediction), so a reviewer marks the odd ones out first and then approves the rest.
Each action is one ledger transaction about the object ids shown (never rows read again);
galaxies decided since the page was shown are left out, and counted. Actions on more than
`CONFIRM_ABOVE` galaxies wait for Confirm, on more than `MAX_PER_ACTION` are refused. Undo
retracts the last action's decisions. What was not saved, and why, is said.

Keyboard shortcuts (`SHORTCUTS`), while the grid is visible, anywhere on the page but in a
text field, without Ctrl/Alt/Cmd:

====================  =========================================================
``a`` ``r`` ``u``     approve / relabel / unsure / artefact the opened galaxy
``x``
``A`` ``R`` ``U``     the same for every undecided galaxy on this page (Shift)
``X``
``z``                 undo the last action (retracts its decisions)
``←`` ``→``           previous / next page
====================  =========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import panel as pn
import param

from dashboard.data import data_version
from dashboard.notices import decision_problem, missing_alert
from dashboard.queues import DEFAULT_THRESHOLD, DEFAULT_TOP, QUEUES
from dashboard.session import Shown
from dashboard.text import plain
from dashboard.views.base import View
from dashboard.views.grid_cells import CELL_CSS, make_grid_html
from dashboard.views.thumbnail_grid import ThumbnailGrid
from store import LABELLED, NO_LABEL, PAST_TENSE, STATES, LedgerError, StoreError

__all__ = [
    "CONFIRM_ABOVE",
    "MAX_PER_ACTION",
    "PAGE_SIZES",
    "SHORTCUTS",
    "TARGETS",
    "GridView",
    "page_count",
]

CONFIRM_ABOVE = 500
"""An action on more galaxies than this waits for the reviewer to press Confirm."""

MAX_PER_ACTION = 10_000
"""The most galaxies one action decides about (one ledger transaction)."""

PAGE_SIZES: tuple[int, ...] = (24, 48)
"""Thumbnails per page; even, so a page never splits a pair of the surveys-disagree queue."""

TARGETS: Mapping[str, str] = {
    "galaxy": "Opened galaxy",
    "page": "Undecided on this page",
    "selection": "Undecided in the selection",
}
"""What a decision button applies to, and its label."""

_DECISION_KEYS = dict(zip("arux", STATES, strict=True))  # approve, relabel, unsure, artefact
_PAGE_KEYS = {"ArrowLeft": -1, "ArrowRight": 1}
_UNDO_KEY = "z"

SHORTCUTS: Mapping[str, str] = {
    **{key: f"{decision} the opened galaxy" for key, decision in _DECISION_KEYS.items()},
    **{
        key.upper(): f"{decision} every undecided galaxy on this page"
        for key, decision in _DECISION_KEYS.items()
    },
    _UNDO_KEY: "undo the last action (retracts its decisions)",
    "ArrowLeft": "previous page",
    "ArrowRight": "next page",
}
"""Keyboard shortcut -> what it does; they are ignored while typing in a text field."""


def page_count(n: int, page_size: int) -> int:
    """Return how many pages `n` galaxies fill (at least one, which may be empty).

    Examples
    --------
    >>> page_count(49, 24)
    3
    """
    return max(1, -(-n // page_size))


def _count(n: int, noun: str) -> str:
    """Say how many, e.g. "1 galaxy", "3 galaxies"."""
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


class GridView(View):
    """A page of the session's review queue as thumbnails, with decisions and paging.

    Decisions go to the ledger through `ReviewSession.decide_shown`, one transaction per action.
    """

    page_size = param.Selector(
        default=PAGE_SIZES[0], objects=list(PAGE_SIZES), doc="Thumbnails per page."
    )
    reason = param.String(default="", doc="Why, recorded with the next decision (optional).")
    target = param.Selector(
        default="page", objects=list(TARGETS), doc="What the decision buttons apply to."
    )
    threshold = param.Number(
        default=DEFAULT_THRESHOLD,
        bounds=(0.5, 1.0),
        doc="Lowest class probability in the confident queue.",
    )
    top = param.Integer(
        default=DEFAULT_TOP, bounds=(1, None), doc="Galaxies per class in the confident queue."
    )

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self._actions = self.session.undoable  # the galaxy panel's decisions are undone here too
        self._grid = ThumbnailGrid(
            shortcut_keys=list(SHORTCUTS), stylesheets=[CELL_CSS], sizing_mode="stretch_width"
        )
        self._grid.receiver = self._on_message
        self._page_text = pn.pane.Markdown()
        self._message = pn.pane.Alert(visible=False)
        self._confirm = pn.widgets.Button(name="Confirm", button_type="danger", visible=False)
        self._confirm.on_click(lambda _: self.confirm())
        self._pending: tuple[str, str, Shown] | None = None
        self.param.watch(self._on_page_size, "page_size")
        self._on_queue()

    @property
    def page(self) -> dict[str, np.ndarray]:
        """The rows shown now: the session's page of the queue (its last page if past the end)."""
        return self._page

    def open(self, row: int) -> None:
        """Open the galaxy of a catalog row (show it in the galaxy view)."""
        self.session.selected_row = int(row)

    def turn(self, step: int) -> None:
        """Go `step` pages forward (negative: back), stopping at the first and last page."""
        last = page_count(len(self._frame["row"]), self.page_size) - 1
        self.session.page = max(0, min(self._page_number + step, last))

    def decide(self, decision: str, target: str | None = None) -> list[int]:
        """Record a decision about the galaxies of a target; say what was done, or why not.

        An action on more than `CONFIRM_ABOVE` galaxies only asks for `confirm`; one on more
        than `MAX_PER_ACTION` is refused.

        Parameters
        ----------
        decision
            ``"approve"``, ``"relabel"``, ``"unsure"`` or ``"artefact"``.
        target
            A key of `TARGETS`; by default `target`.

        Returns
        -------
        list of int
            The new decisions' ids (empty if nothing was recorded).
        """
        target = target or self.target
        self._ask(None)
        try:
            shown = self._targets(decision, target)
        except ValueError as error:
            self._say(str(error), "danger")
            return []
        n = len(shown.object_ids)
        if n > MAX_PER_ACTION:
            self._say(
                f"Not recorded: {_count(n, 'galaxy')} is more than one action decides about"
                f" ({MAX_PER_ACTION}); narrow the selection (a smaller box or lasso, or a filter).",
                "danger",
            )
            return []
        if n > CONFIRM_ABOVE:
            self._ask((decision, target, shown))
            self._say(
                f"This would {decision} {_count(n, 'galaxy')} ({TARGETS[target].lower()}):"
                " press Confirm to record it, or choose another action.",
                "warning",
            )
            return []
        return self._record(decision, target, shown)

    def confirm(self) -> list[int]:
        """Record the action that waits for confirmation (see `decide`).

        Returns
        -------
        list of int
            The new decisions' ids (empty if nothing waited or nothing was recorded).
        """
        if self._pending is None:
            self._say("Nothing to confirm.", "warning")
            return []
        decision, target, shown = self._pending
        self._ask(None)
        return self._record(decision, target, shown)

    def undo(self) -> list[int]:
        """Retract the decisions of the session's last action not undone yet (any view's).

        Returns
        -------
        list of int
            The retractions' ids (empty if there was nothing to undo or it failed).
        """
        if not self._actions:
            self._say("Nothing to undo.", "warning")
            return []
        object_ids, ids = self._actions.pop()
        try:
            retractions = self.session.retract(object_ids, ids)
        except StoreError as error:
            if isinstance(error, LedgerError):
                self._actions.append((object_ids, ids))  # not saved: Undo can try it again
            self._say(decision_problem(error, "undo"), "danger")
            return []
        self._say(f"Undone: retracted {_count(len(retractions), 'decision')}.")
        return retractions

    def press(self, key: str) -> None:
        """Do what the keyboard shortcut `key` does (see `SHORTCUTS`); ignore other keys."""
        if key.lower() in _DECISION_KEYS:
            self.decide(_DECISION_KEYS[key.lower()], "page" if key.isupper() else "galaxy")
        elif key == _UNDO_KEY:
            self.undo()
        elif key in _PAGE_KEYS:
            self.turn(_PAGE_KEYS[key])

    def _targets(self, decision: str, target: str) -> Shown:
        """Return the shown galaxies a decision applies to; raise ValueError when there are none."""
        if target == "galaxy":
            if self.session.opened is None:
                msg = f"open a galaxy (click its thumbnail) to {decision} it"
                raise ValueError(msg)
            # The galaxy's status is shown as the ledger is now.
            return self.session.opened._replace(ledger_state=self.session.ledger_state)
        shown = self._page_shown if target == "page" else self._selection_shown
        keep = ~np.isin(shown.object_ids, np.fromiter(self._current, dtype=np.int64))
        if decision in LABELLED:
            keep &= shown.predicted != NO_LABEL
        if not keep.any():
            where = TARGETS[target].split()[-1]
            msg = f"nothing to {decision} in the {where}: every galaxy has a decision"
            if decision in LABELLED:
                msg += " or no prediction"
            raise ValueError(msg)
        return shown.take(keep)

    def _record(self, decision: str, target: str, shown: Shown) -> list[int]:
        """Record a decision about shown galaxies; say what was recorded, left out, or why not."""
        try:
            outcome = self.session.decide_shown(
                shown, decision, reason=self.reason, undecided_only=target != "galaxy"
            )
        except (ValueError, StoreError) as error:
            self._say(decision_problem(error, decision), "danger")
            return []
        self.reason = ""
        done = f"{PAST_TENSE[decision]}: {_count(len(outcome.ids), 'galaxy')}"
        done += f" ({TARGETS[target].lower()})."
        left_out = len(outcome.changed) + len(outcome.decided)
        if left_out:
            done += (
                f" {_count(left_out, 'galaxy')} left out: decided by someone else after this"
                " page was shown (now shown with that decision)."
            )
        self._say(done, "warning" if left_out else "success")
        return outcome.ids

    def _ask(self, pending: tuple[str, str, Shown] | None) -> None:
        """Keep an action to confirm (show Confirm), or forget it (None)."""
        self._pending = pending
        self._confirm.visible = pending is not None
        if pending is not None:
            decision, _, shown = pending
            self._confirm.name = f"Confirm: {decision} {_count(len(shown.object_ids), 'galaxy')}"

    def _say(self, text: str, kind: str = "success") -> None:
        """Show the outcome of an action."""
        self._message.param.update(object=plain(text), alert_type=kind, visible=True)

    def _on_message(self, data: Mapping[str, Any]) -> None:
        """Open a clicked galaxy, or do what a pressed key does."""
        if "row" in data:
            self.open(data["row"])
        elif "key" in data:
            self.press(str(data["key"]))

    def _on_page_size(self, event: param.parameterized.Event) -> None:
        """Show the page that holds the first galaxy shown before the page size changed."""
        page = self._page_number * event.old // event.new
        if page == self.session.page:
            self._on_page()
        else:
            self.session.page = page

    @param.depends(
        "session.hide_decided",
        "session.ledger_state",
        "session.queue",
        "session.run",
        "session.selection",
        "threshold",
        "top",
        watch=True,
    )
    def _on_queue(self) -> None:
        """Build the queue again and show the page."""
        catalog_id = self.session.catalog_id()  # before the data, so a replaced one is refused
        self._state = state = self.session.ledger_state
        self._current = self.session.current
        self._frame = self.session.queue_frame(top=self.top, threshold=self.threshold)
        selection = self._frame
        if self.session.queue != "selection":
            selection = self.session.queue_frame("selection")
        self._catalog_id = catalog_id
        self._selection_shown = Shown(
            catalog_id, state, selection["object_id"], selection["predicted"]
        )
        self._on_page()

    @param.depends("session.page", "session.selected_row", watch=True)
    def _on_page(self) -> None:
        """Show the session's page of the queue."""
        n = len(self._frame["row"])
        pages = page_count(n, self.page_size)
        self._page_number = number = min(self.session.page, pages - 1)
        start = number * self.page_size
        self._page = page = {
            name: values[start : start + self.page_size] for name, values in self._frame.items()
        }
        self._page_shown = Shown(
            self._catalog_id, self._state, page["object_id"], page["predicted"]
        )
        self._grid.markup = make_grid_html(
            page,
            self._current,
            version=data_version(self.session.workspace),
            opened=self.session.selected_row,
        )
        self._page_text.object = f"Page {number + 1} of {pages} · {_count(n, 'galaxy')}"

    @param.depends("session.queue")
    def _description(self) -> str:
        """Say what the queue holds."""
        return QUEUES[self.session.queue].description

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the queue controls, the paging, the grid and the decision buttons."""
        buttons = []
        for decision in _DECISION_KEYS.values():
            button = pn.widgets.Button(name=decision.capitalize(), button_type="primary")
            button.on_click(lambda _, decision=decision: self.decide(decision))
            buttons.append(button)
        undo = pn.widgets.Button(name="Undo", button_type="warning")
        undo.on_click(lambda _: self.undo())
        previous = pn.widgets.Button(name="◀ Previous")
        previous.on_click(lambda _: self.turn(-1))
        following = pn.widgets.Button(name="Next ▶")
        following.on_click(lambda _: self.turn(1))
        confident = pn.bind(lambda queue: queue == "confident", self.session.param.queue)
        shortcuts = "\n".join(f"- `{key}`: {text}" for key, text in SHORTCUTS.items())
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.session.param.queue, name="Queue"),
                pn.widgets.Checkbox.from_param(self.session.param.hide_decided),
                pn.widgets.Select.from_param(self.param.page_size),
                pn.widgets.IntInput.from_param(self.param.top, visible=confident),
                pn.widgets.FloatInput.from_param(
                    self.param.threshold, step=0.01, visible=confident
                ),
            ),
            pn.pane.Markdown(self._description),
            missing_alert(self.session, "probs"),
            pn.Row(previous, self._page_text, following),
            self._grid,
            pn.Row(
                pn.widgets.RadioButtonGroup.from_param(
                    self.param.target, options={label: key for key, label in TARGETS.items()}
                ),
                pn.widgets.TextInput.from_param(self.param.reason, placeholder="optional"),
            ),
            pn.Row(*buttons, undo),
            pn.Row(self._message, self._confirm),
            pn.Card(pn.pane.Markdown(shortcuts), title="Keyboard shortcuts", collapsed=True),
            sizing_mode="stretch_width",
        )

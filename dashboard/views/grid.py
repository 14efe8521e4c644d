"""A page of thumbnails from a review queue or the selection, with decisions on many at once.

The cells' HTML comes from `dashboard.views.grid_cells`, and the browser side that shows them
from `dashboard.views.thumbnail_grid`. Clicking a thumbnail opens that galaxy (`selected_row`).

A decision applies to the opened galaxy, to this page or to the whole selection; on a page or
a selection it goes only to the galaxies that have no decision yet (and, to approve or
relabel, a prediction), so a reviewer marks the odd ones out first and then approves the rest.
Each action is one ledger transaction; Undo retracts the last action's decisions.

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

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import panel as pn
import param

from dashboard.data_store import data_version
from dashboard.notices import decision_problem, missing_alert
from dashboard.queues import DEFAULT_THRESHOLD, DEFAULT_TOP, LABELLED, QUEUES, undecided_rows
from dashboard.views.base import View
from dashboard.views.grid_cells import CELL_CSS, PAST_TENSE, make_grid_html
from dashboard.views.thumbnail_grid import ThumbnailGrid
from store import LedgerLockedError, SchemaError

__all__ = ["PAGE_SIZES", "SHORTCUTS", "TARGETS", "GridView", "page_count"]

PAGE_SIZES: tuple[int, ...] = (24, 48)
"""Thumbnails per page; even, so a page never splits a pair of the surveys-disagree queue."""

TARGETS: Mapping[str, str] = {
    "galaxy": "Opened galaxy",
    "page": "Undecided on this page",
    "selection": "Undecided in the selection",
}
"""What a decision button applies to, and its label."""

_DECISION_KEYS = {"a": "approve", "r": "relabel", "u": "unsure", "x": "artefact"}
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
    """A page of the store's review queue as thumbnails, with decisions and paging.

    Decisions go to the ledger through `GalaxyStore.decide_rows`, one transaction per action.
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
        self._actions = self.store.undoable  # the galaxy panel's decisions are undone here too
        self._grid = ThumbnailGrid(
            shortcut_keys=list(SHORTCUTS), stylesheets=[CELL_CSS], sizing_mode="stretch_width"
        )
        self._grid.receiver = self._on_message
        self._page_text = pn.pane.Markdown()
        self._message = pn.pane.Alert(visible=False)
        self.param.watch(self._on_page_size, "page_size")
        self._on_queue()

    @property
    def page(self) -> dict[str, np.ndarray]:
        """The rows shown now: the store's page of the queue (its last page if past the end)."""
        return self._page

    def open(self, row: int) -> None:
        """Open the galaxy of a catalog row (show it in the galaxy view)."""
        self.store.selected_row = int(row)

    def turn(self, step: int) -> None:
        """Go `step` pages forward (negative: back), stopping at the first and last page."""
        last = page_count(len(self._frame["row"]), self.page_size) - 1
        self.store.page = max(0, min(self._page_number + step, last))

    def decide(self, decision: str, target: str | None = None) -> list[int]:
        """Record a decision about the galaxies of a target; say what was done, or why not.

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
        try:
            rows = self._target_rows(decision, target)
            ids = self.store.decide_rows(rows, decision, reason=self.reason)
        except (ValueError, SchemaError, LedgerLockedError) as error:
            self._say(decision_problem(error, decision), "danger")
            return []
        self.reason = ""
        self._say(
            f"{PAST_TENSE[decision]}: {_count(len(ids), 'galaxy')} ({TARGETS[target].lower()})."
        )
        return ids

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
        rows, ids = self._actions.pop()
        try:
            retractions = self.store.retract(rows, ids)
        except (SchemaError, LedgerLockedError) as error:
            if isinstance(error, LedgerLockedError):
                self._actions.append((rows, ids))  # not undone: Undo can try it again
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

    def _target_rows(self, decision: str, target: str) -> np.ndarray:
        """Return the rows a decision applies to; raise ValueError when there are none."""
        if target == "galaxy":
            if self.store.selected_row is None:
                msg = f"open a galaxy (click its thumbnail) to {decision} it"
                raise ValueError(msg)
            return np.array([self.store.selected_row])
        frame = self._page if target == "page" else self.store.queue_frame("selection")
        rows = undecided_rows(frame, self.store.ledger.current(), decision)
        if not len(rows):
            where = TARGETS[target].split()[-1]
            msg = f"nothing to {decision} in the {where}: every galaxy has a decision"
            if decision in LABELLED:
                msg += " or no prediction"
            raise ValueError(msg)
        return rows

    def _say(self, text: str, kind: str = "success") -> None:
        """Show the outcome of an action."""
        self._message.param.update(object=html.escape(text), alert_type=kind, visible=True)

    def _on_message(self, data: Mapping[str, Any]) -> None:
        """Open a clicked galaxy, or do what a pressed key does."""
        if "row" in data:
            self.open(data["row"])
        elif "key" in data:
            self.press(str(data["key"]))

    def _on_page_size(self, event: param.parameterized.Event) -> None:
        """Show the page that holds the first galaxy shown before the page size changed."""
        page = self._page_number * event.old // event.new
        if page == self.store.page:
            self._on_page()
        else:
            self.store.page = page

    @param.depends(
        "store.hide_decided",
        "store.ledger_state",
        "store.queue",
        "store.run",
        "store.selection",
        "threshold",
        "top",
        watch=True,
    )
    def _on_queue(self) -> None:
        """Build the queue again and show the page."""
        self._frame = self.store.queue_frame(top=self.top, threshold=self.threshold)
        self._on_page()

    @param.depends("store.page", "store.selected_row", watch=True)
    def _on_page(self) -> None:
        """Show the store's page of the queue."""
        n = len(self._frame["row"])
        pages = page_count(n, self.page_size)
        self._page_number = number = min(self.store.page, pages - 1)
        start = number * self.page_size
        self._page = {
            name: values[start : start + self.page_size] for name, values in self._frame.items()
        }
        self._grid.markup = make_grid_html(
            self._page,
            self.store.ledger.current(),
            version=data_version(self.store.workspace),
            opened=self.store.selected_row,
        )
        self._page_text.object = f"Page {number + 1} of {pages} · {_count(n, 'galaxy')}"

    @param.depends("store.queue")
    def _description(self) -> str:
        """Say what the queue holds."""
        return QUEUES[self.store.queue].description

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
        confident = pn.bind(lambda queue: queue == "confident", self.store.param.queue)
        shortcuts = "\n".join(f"- `{key}`: {text}" for key, text in SHORTCUTS.items())
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.store.param.queue, name="Queue"),
                pn.widgets.Checkbox.from_param(self.store.param.hide_decided),
                pn.widgets.Select.from_param(self.param.page_size),
                pn.widgets.IntInput.from_param(self.param.top, visible=confident),
                pn.widgets.FloatInput.from_param(
                    self.param.threshold, step=0.01, visible=confident
                ),
            ),
            pn.pane.Markdown(self._description),
            missing_alert(self.store, "probs"),
            pn.Row(previous, self._page_text, following),
            self._grid,
            pn.Row(
                pn.widgets.RadioButtonGroup.from_param(
                    self.param.target, options={label: key for key, label in TARGETS.items()}
                ),
                pn.widgets.TextInput.from_param(self.param.reason, placeholder="optional"),
            ),
            pn.Row(*buttons, undo),
            self._message,
            pn.Card(pn.pane.Markdown(shortcuts), title="Keyboard shortcuts", collapsed=True),
            sizing_mode="stretch_width",
        )

"""The shared state of a dashboard session: the run, the filters, the selection, the queue.

Views link to each other only through `ReviewSession`'s parameters; the data come from the
cached loaders of `dashboard.data`. Its derived data (`dashboard._session_data`)
and its decisions (`dashboard._session_decisions`) are mixins; its parameters and watchers are here.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import numpy as np
import panel as pn
import param
from panel.viewable import Viewer

from dashboard._session_data import SessionData
from dashboard._session_decisions import SessionDecisions, Shown
from dashboard.data import (
    ALL_SURVEYS,
    CATEGORY_COLUMNS,
    COLOR_COLUMNS,
    SELECTION_PARAMETERS,
    select_frame,
)
from dashboard.queues import QUEUES, decided_rows, make_queue
from dashboard.run_state import default_run
from store import SURVEYS, Ledger, LedgerError, Workspace

__all__ = ["ReviewSession", "Shown"]

logger = logging.getLogger(__name__)

LEDGER_TIMEOUT = 5.0
"""Seconds a decision waits for another program writing to the ledger before it is refused."""


class ReviewSession(SessionData, SessionDecisions, Viewer):
    """The loaded run, the filters, the selected galaxy and the review actions.

    Views read the derived attributes (`frame`, `count`, `galaxy`, `points` of `SessionData`,
    `history` of `SessionDecisions`) and link to each other only through this object's parameters.
    Rendered, it shows the filter widgets.

    Parameters
    ----------
    workspace
        The workspace to show.
    **params
        Initial values of the other parameters, e.g. ``run="r1"``.

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog. Without runs, or for a run without predictions or an
        embedding, the session shows NaN for what is missing (`dashboard.run_state`).
    ValueError
        If `run` names no run of the workspace, or `selected_row` is not a catalog row.

    Examples
    --------
    >>> session = ReviewSession(workspace=Workspace("ws"))  # doctest: +SKIP
    >>> session.misclassified_only = True  # doctest: +SKIP
    >>> session.count  # doctest: +SKIP
    3
    """

    color_by = param.Selector(
        default=CATEGORY_COLUMNS[0],
        objects=list(COLOR_COLUMNS),
        label="Colour by",
        doc="What colours the plots: predicted class, Galaxy Zoo label, survey, review state"
        " or confidence.",
    )
    hide_decided = param.Boolean(
        default=False,
        doc="Leave the galaxies that have a decision in effect out of the review queue.",
    )
    ledger_state = param.Integer(
        default=0,
        bounds=(0, None),
        doc="Highest decision id in the review ledger; it changes after every recorded decision.",
    )
    misclassified_only = param.Boolean(
        default=False,
        doc="Show only objects with a Galaxy Zoo label that differs from the predicted class.",
    )
    page = param.Integer(
        default=0,
        bounds=(0, None),
        doc="The page of the review queue that the thumbnail grid shows (0 is the first).",
    )
    queue = param.Selector(
        default="confident",
        objects=list(QUEUES),
        doc="The review queue that the thumbnail grid shows (see `dashboard.queues.QUEUES`).",
    )
    reviewer = param.String(
        default="",
        doc="Who records the decisions: the signed-in user, else the name typed once per session.",
    )
    run = param.Selector(
        default=None, objects=[], doc="The run whose predictions and embedding are shown."
    )
    selected_ids = param.List(
        default=[],
        item_type=int,
        doc="Object ids of the selected galaxies; follows `selected_row` and sets it.",
    )
    selected_row = param.Integer(
        default=None,
        allow_None=True,
        bounds=(0, None),
        doc="Catalog row of the galaxy shown in detail, or None when nothing is selected.",
    )
    selection = param.Array(
        default=np.array([], dtype=np.int64),
        doc="Catalog rows chosen in a linked view (a box or lasso selection), sorted; every view"
        " that shows a selection shows these rows. Set it with `select_rows`.",
    )
    signed_in = param.Boolean(
        default=False,
        doc="Whether `reviewer` is the user signed in to the server (then it cannot be typed).",
    )
    survey = param.Selector(
        default=ALL_SURVEYS,
        objects=[ALL_SURVEYS, *SURVEYS],
        doc="Show the objects of one survey, or of all of them.",
    )
    workspace = param.ClassSelector(
        class_=Workspace, constant=True, doc="The workspace whose catalog and ledger are shown."
    )

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        selection = {name: params.pop(name) for name in SELECTION_PARAMETERS if name in params}
        super().__init__(**params)
        runs = self.workspace.catalog(mode="r").runs()  # with or without predictions
        if self.run is not None and self.run not in runs:
            msg = f"run must be one of the runs ({', '.join(runs) or 'none'}), got {self.run!r}"
            raise ValueError(msg)
        self._ledger = Ledger(self.workspace.ledger_path, timeout=LEDGER_TIMEOUT)
        self.undoable: list[tuple[list[int], list[int]]] = []
        """This session's decisions, oldest first, as (object ids, ledger ids): what Undo
        retracts, whichever view recorded them."""
        with param.parameterized.discard_events(self):
            self.param.run.objects = runs
            if runs:  # none: no run is shown (setting None would offer it as a run)
                self.run = self.run or default_run(self.workspace, runs)
        self.param.run.check_on_set = True  # an unknown run (e.g. from the URL) is refused
        self.param.selected_row.bounds = (0, len(self._objects["object_id"]) - 1)
        self.ledger_state = self._ledger.state()
        self._on_filters()
        self.param.update(selection)

    def select_rows(self, rows: np.ndarray | list[int]) -> None:
        """Make `rows` (catalog rows, any order, repeats allowed) the shared selection.

        Raises
        ------
        ValueError
            If a row is not a catalog row.
        """
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        n = len(self._objects["object_id"])
        if len(rows) and (rows[0] < 0 or rows[-1] >= n):
            msg = f"selection rows must be catalog rows 0 to {n - 1}"
            raise ValueError(msg)
        self.selection = rows

    def refresh_runs(self) -> list[str]:
        """Offer the workspace's runs now (e.g. one a retraining job just made).

        Returns
        -------
        list of str
            The runs, oldest first; the shown run stays as it is.
        """
        runs = self.workspace.catalog(mode="r").runs()
        self.param.run.objects = runs
        return runs

    def refresh_ledger(self) -> None:
        """Read the ledger's state again, so that views show what other reviewers decided.

        A ledger that cannot be read (locked by another program, a disk error) keeps the state
        read last; the next call tries again.
        """
        try:
            self.ledger_state = self._ledger.state()
        except LedgerError as error:
            logger.info("the review ledger was not read (%s); it is read again later", error)

    def queue_frame(self, name: str | None = None, **options: Any) -> dict[str, np.ndarray]:  # noqa: ANN401
        """Return a review queue of the run, without decided galaxies if they are hidden.

        Parameters
        ----------
        name
            A key of `dashboard.queues.QUEUES`; by default `queue`.
        **options
            Options of the queue functions, e.g. ``top`` and ``threshold`` of ``confident``.

        Returns
        -------
        dict of str to numpy.ndarray
            The queue's rows in review order and what to show about them
            (`dashboard.queues.queue_frame`).
        """
        objects = self._objects
        reviewed = decided_rows(objects["object_id"], self.current)
        return make_queue(
            name or self.queue,
            objects,
            self._predictions,
            decided=reviewed if self.hide_decided else None,
            reviewed=reviewed,
            selection=self.selection,
            **options,
        )

    @param.depends("misclassified_only", "run", "survey", watch=True)
    def _on_filters(self) -> None:
        """Select the rows that pass the filters."""
        self._frame = select_frame(
            self._objects,
            self._predictions,
            survey=self.survey,
            misclassified_only=self.misclassified_only,
        )

    @param.depends("hide_decided", "queue", "run", watch=True)
    def _on_queue(self) -> None:
        """Show a changed queue from its first page."""
        self.page = 0

    @param.depends("selection", watch=True)
    def _on_selection(self) -> None:
        """Show a new selection in the grid, from its first page (an empty one changes nothing)."""
        if len(self.selection):
            self.param.update(queue="selection", page=0)

    @param.depends("selected_row", watch=True)
    def _on_selected_row(self) -> None:
        """Make `selected_ids` include the selected galaxy (and nothing when none is)."""
        row = self.selected_row
        self._open(row)
        if row is None:
            self.selected_ids = []
        elif (object_id := int(self._objects["object_id"][row])) not in self.selected_ids:
            self.selected_ids = [object_id]

    @param.depends("selected_ids", watch=True)
    def _on_selected_ids(self) -> None:
        """Show the first selected galaxy in detail, unless the shown one is selected."""
        rows = np.flatnonzero(np.isin(self._objects["object_id"], self.selected_ids)).tolist()
        if self.selected_row not in rows:
            self.selected_row = rows[0] if rows else None

    def _reviewer_widget(self) -> pn.viewable.Viewable:
        """Return who reviews: the signed-in user with a log-out link, or a name to type."""
        if self.signed_in:
            name = html.escape(self.reviewer)
            return pn.pane.HTML(
                f"Reviewer: <b>{name}</b> (signed in) · <a href='logout'>Log out</a>"
            )
        return pn.widgets.TextInput.from_param(
            self.param.reviewer,
            name="Reviewer",
            placeholder="your name, recorded with each decision",
            sizing_mode="stretch_width",
        )

    @param.depends("misclassified_only", "run", "survey")
    def _count_text(self) -> str:
        """Say how many galaxies are shown."""
        total = int((self._predictions["shown"] & self._objects["usable"]).sum())
        return f"**{self.count}** of {total} galaxies shown"

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the filter widgets and the count."""
        stretch = {"sizing_mode": "stretch_width"}
        return pn.Column(
            self._reviewer_widget(),
            pn.widgets.Select.from_param(self.param.run, **stretch),
            pn.widgets.RadioButtonGroup.from_param(self.param.survey, **stretch),
            pn.widgets.Checkbox.from_param(self.param.misclassified_only),
            pn.widgets.Select.from_param(self.param.color_by, **stretch),
            pn.pane.Markdown(self._count_text),
            **stretch,
        )

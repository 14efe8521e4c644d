"""The data side of `ReviewSession`: the cached arrays of its run and what passes its filters.

A plain mixin: it declares no parameters and no `param.depends` watchers (param ignores both on a
class that is not `param.Parameterized`); `ReviewSession` declares them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data import (
    REVIEW_STATES,
    Galaxy,
    _categorical,
    _galaxy,
    data_version,
    load_objects,
    load_points,
    load_predictions,
    load_reviews,
)
from store import Workspace

__all__ = ["SessionData"]


class SessionData:
    """The loaded run's arrays, the filtered rows, their plot points and the selected galaxy.

    The host class (`ReviewSession`) provides the parameters ``ledger_state``, ``run``,
    ``selected_row`` and ``workspace``, and sets ``_frame`` whenever a filter changes.
    """

    _frame: dict[str, np.ndarray]
    _points_memo: tuple[dict[str, np.ndarray], int, pd.DataFrame] | None = None
    ledger_state: int
    run: str | None
    selected_row: int | None
    workspace: Workspace

    @property
    def _root(self) -> str:
        """The workspace folder, as the loaders' cache key."""
        return str(self.workspace.root)

    @property
    def _objects(self) -> dict[str, np.ndarray]:
        """The cached object columns."""
        return load_objects(self._root, data_version(self.workspace))

    @property
    def _predictions(self) -> dict[str, np.ndarray]:
        """The cached arrays of the current run."""
        return load_predictions(self._root, self.run, data_version(self.workspace, self.run))

    @property
    def frame(self) -> dict[str, np.ndarray]:
        """The rows that pass the filters, as returned by `select_frame`."""
        return self._frame

    @property
    def points(self) -> pd.DataFrame:
        """The rows of `frame` for plotting: `load_points` columns plus the ``review`` state.

        Computed once per filter and ledger state; category columns are pandas categoricals.
        """
        frame, state = self._frame, self.ledger_state
        memo = self._points_memo
        if memo is None or memo[0] is not frame or memo[1] != state:
            version = data_version(self.workspace)
            table = load_points(
                self._root, self.run, version, data_version(self.workspace, self.run)
            )
            review = load_reviews(self._root, version, state)[frame["row"]]
            points = table.take(frame["row"]).reset_index(drop=True)
            points["review"] = _categorical(review, REVIEW_STATES)
            self._points_memo = memo = (frame, state, points)
        return memo[2]

    @property
    def count(self) -> int:
        """How many galaxies pass the filters."""
        return len(self._frame["row"])

    @property
    def galaxy(self) -> Galaxy | None:
        """The selected galaxy, or None."""
        if self.selected_row is None:
            return None
        return _galaxy(self._objects, self._predictions, self.selected_row)

"""The test metrics of the shown run and of its parent, side by side: Table II, ROC, Fig. 6.

Everything comes from what ``galcore evaluate`` stored in each run's ``test_metrics``
attribute; the figures are `galcore.plots`'s (HoloViews, drawn here with Bokeh).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import holoviews as hv
import pandas as pd
import panel as pn
import param
from bokeh.models import NumberFormatter

from dashboard.notices import markdown_text
from dashboard.run_state import no_run_message
from dashboard.views.base import View
from galcore.evaluation import set_label
from galcore.plots import confidence_plot, roc_plot
from store import StoreNotFoundError, Workspace

__all__ = [
    "TABLE_COLUMNS",
    "MetricsView",
    "make_metrics_figure",
    "make_metrics_table",
    "no_metrics_message",
    "runs_to_compare",
]

Metrics = Mapping[str, Mapping[str, Any]]
"""The metrics of one run: test set key (``"fo_test/des"``) -> metrics of that set."""

TABLE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "n": ("n",),
    "accuracy": ("accuracy",),
    "precision": ("precision",),
    "recall": ("recall",),
    "FPR": ("fpr",),
    "F1": ("f1",),
    "AUC": ("auc",),
    "top 50% accuracy": ("top50", "accuracy"),
    "top 50% F1": ("top50", "f1"),
}
"""Table II's metric columns and where each is in a test set's stored metrics."""

_PERCENT = ("accuracy", "top 50% accuracy")


def make_metrics_table(metrics_by_run: Mapping[str, Metrics]) -> pd.DataFrame:
    """Return Table II of several runs: one row per test set and survey, runs side by side.

    Parameters
    ----------
    metrics_by_run
        Run name -> its stored ``test_metrics``, in the order to show the runs.

    Returns
    -------
    pandas.DataFrame
        Columns ``run``, ``test set`` (e.g. ``"FO DES"``) and `TABLE_COLUMNS`; the rows of one
        test set follow each other, in the order of `metrics_by_run`. Undefined values are NaN.

    Examples
    --------
    >>> rates = dict(n=2, accuracy=1.0, precision=1.0, recall=1.0, fpr=0.0, f1=1.0, auc=None)
    >>> table = make_metrics_table({"r1": {"hp_test/sdss": rates | {"top50": rates}}})
    >>> table[["run", "test set", "n", "accuracy"]].to_dict("records")
    [{'run': 'r1', 'test set': 'HP SDSS', 'n': 2, 'accuracy': 1.0}]
    """
    sets = list(dict.fromkeys(name for metrics in metrics_by_run.values() for name in metrics))
    rows = [
        {"run": run, "test set": set_label(name)}
        | {column: _value(metrics[name], path) for column, path in TABLE_COLUMNS.items()}
        for name in sets
        for run, metrics in metrics_by_run.items()
        if name in metrics
    ]
    table = pd.DataFrame(rows, columns=["run", "test set", *TABLE_COLUMNS])
    return table.astype({"n": "int64"} | {column: "float64" for column in list(TABLE_COLUMNS)[1:]})


def _value(metrics: Mapping[str, Any], path: tuple[str, ...]) -> float:
    """Return the value at `path` in one test set's metrics, NaN where it is undefined."""
    value = metrics[path[0]] if len(path) == 1 else metrics[path[0]][path[1]]
    return math.nan if value is None else value


def make_metrics_figure(metrics_by_run: Mapping[str, Metrics]) -> hv.Layout:
    """Return the ROC curves (with their AUC) and Fig. 6 of several runs, side by side.

    Parameters
    ----------
    metrics_by_run
        Run name -> its stored ``test_metrics``; one curve per run and test set.

    Returns
    -------
    holoviews.Layout
        ROC curves, then accuracy and F1 against the fraction of most confident predictions.
    """
    return (roc_plot(metrics_by_run) + confidence_plot(metrics_by_run)).cols(3)


def no_metrics_message(workspace: Workspace, run: str) -> str:
    """Say that a run has no test metrics and which command computes them.

    Examples
    --------
    >>> no_metrics_message(Workspace("ws"), "r2")
    'run r2 has no test metrics: run galcore evaluate --workspace ws --run r2'
    """
    return (
        f"run {run} has no test metrics:"
        f" run galcore evaluate --workspace {workspace.root} --run {run}"
    )


def runs_to_compare(workspace: Workspace, run: str) -> list[str]:
    """Return the run and its parent (if it has one in the catalog), in that order.

    Raises
    ------
    StoreNotFoundError
        If the catalog has no run `run`.
    """
    catalog = workspace.catalog(mode="r")
    parent = catalog.run(run).attrs.get("parent")
    return [run, parent] if parent and parent in catalog.runs() else [run]


def _stored_metrics(workspace: Workspace, runs: list[str]) -> dict[str, Metrics | None]:
    """Return each run's ``test_metrics`` (None for a run not evaluated yet)."""
    catalog = workspace.catalog(mode="r")
    return {run: catalog.run(run).attrs.get("test_metrics") or None for run in runs}


class MetricsView(View):
    """Table II, ROC curves and Fig. 6 of the session's run and of its parent run.

    A run that ``galcore evaluate`` has not seen yet gets a message saying how to evaluate it.
    """

    @param.depends("session.run")
    def _content(self) -> pn.viewable.Viewable:
        """Return the messages, the table and the figures of the run and its parent."""
        workspace = self.session.workspace
        if self.session.run is None:
            return pn.pane.Alert(markdown_text(no_run_message(workspace)), alert_type="warning")
        try:
            stored = _stored_metrics(workspace, runs_to_compare(workspace, self.session.run))
        except StoreNotFoundError as error:
            return pn.pane.Alert(markdown_text(str(error)), alert_type="warning")
        missing = [
            pn.pane.Alert(no_metrics_message(workspace, run), alert_type="warning")
            for run, metrics in stored.items()
            if metrics is None
        ]
        evaluated = {run: metrics for run, metrics in stored.items() if metrics is not None}
        if not evaluated:
            return pn.Column(*missing)
        percent = NumberFormatter(format="0.00%", nan_format="-")
        number = NumberFormatter(format="0.000", nan_format="-")
        table = pn.widgets.Tabulator(
            make_metrics_table(evaluated),
            disabled=True,
            show_index=False,
            sortable=False,
            formatters={c: percent if c in _PERCENT else number for c in list(TABLE_COLUMNS)[1:]},
            sizing_mode="stretch_width",
        )
        figure = pn.pane.HoloViews(make_metrics_figure(evaluated), backend="bokeh")
        return pn.Column(*missing, table, figure, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the tab's content, which follows the session's run."""
        return pn.panel(self._content, sizing_mode="stretch_width")

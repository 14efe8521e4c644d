"""The run's 3-D t-SNE embedding: datashaded 2-D projections and a bounded 3-D sample.

The projections show every row and select with box, lasso and tap; the 3-D Plotly view (the
paper's figure) draws a stable random sample of `SAMPLE_SIZE` rows plus the selection, so its
size does not grow with the catalog. A click on either opens that galaxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param
import plotly.graph_objects as go

from dashboard.data import COLOR_COLUMNS, NO_LABEL_NAME
from dashboard.notices import missing_alert
from dashboard.views.base import View
from dashboard.views.datashaded import (
    AXIS_LABELS,
    COLOURS,
    CONFIDENCE_CMAP,
    MAX_SHOWN,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    ScatterView,
    make_scatter_plot,
)
from dashboard.views.rows import Frame, as_table, row_positions, stable_sample
from store import LABELS

__all__ = [
    "PROJECTIONS",
    "SAMPLE_SIZE",
    "EmbeddingView",
    "ProjectionView",
    "make_embedding_figure",
    "make_embedding_plot",
    "sample_rows",
]

PROJECTIONS: Mapping[str, tuple[str, str]] = {
    "x-y": ("x", "y"),
    "x-z": ("x", "z"),
    "y-z": ("y", "z"),
}
"""The 2-D projections of the embedding: name -> the frame columns on the two axes."""

SAMPLE_SIZE = 5_000
"""Rows drawn in the 3-D view (a stable random sample), besides the selection."""

FIGURE_HEIGHT = 640
"""Height of the 3-D plot in pixels."""

_MARKER_SIZE = 4
_SELECTED_COLOUR = "#111111"
_HOVER = ("survey", "object_id", "predicted", "confidence", "label")


def make_embedding_plot(
    frame: Frame,
    *,
    projection: str = "x-y",
    color_by: str = COLOR_COLUMNS[0],
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    width: int = PLOT_WIDTH,
    height: int = PLOT_HEIGHT,
) -> hv.RGB:
    """Return a datashaded 2-D projection of the embedding.

    Parameters
    ----------
    frame
        Plot data with columns ``x``, ``y``, ``z`` and `color_by`, e.g. `ReviewSession.points`.
    projection
        One of `PROJECTIONS`.
    color_by, x_range, y_range, width, height
        As in `dashboard.views.datashaded.make_scatter_plot`.

    Returns
    -------
    holoviews.RGB
        The image, with the box, lasso and tap tools.

    Raises
    ------
    ValueError
        If `projection` or `color_by` is unknown.

    Examples
    --------
    >>> plot = make_embedding_plot(session.points, projection="x-z")  # doctest: +SKIP
    """
    if projection not in PROJECTIONS:
        msg = f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}"
        raise ValueError(msg)
    x, y = PROJECTIONS[projection]
    return make_scatter_plot(
        frame,
        x,
        y,
        color_by=color_by,
        x_range=x_range,
        y_range=y_range,
        width=width,
        height=height,
    )


def sample_rows(
    frame: Frame,
    *,
    selection: np.ndarray | Sequence[int] = (),
    size: int = SAMPLE_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows the 3-D view draws: a stable sample and the selection, both bounded.

    Parameters
    ----------
    frame
        Plot data with ascending catalog rows in ``row``.
    selection
        Catalog rows of the selection; those outside `frame` are left out.
    size
        The most sampled rows.

    Returns
    -------
    tuple of numpy.ndarray
        At most `size` rows of `frame` (see `stable_sample`, seed 0) and at most `MAX_SHOWN`
        selected rows of `frame`, each ascending.
    """
    rows = np.asarray(frame["row"])
    selection = np.asarray(selection, dtype=np.int64)
    selected = rows[row_positions(frame, selection)]
    return stable_sample(rows, size), stable_sample(selected, MAX_SHOWN)


def _hover_text(part: Mapping[str, np.ndarray]) -> np.ndarray:
    """Describe each point for the hover label (object ids as text: they exceed 2**53).

    An array, not a list, so that Panel sends it as a data source.
    """
    lines = [
        f"{survey} {object_id}<br>predicted {predicted} ({confidence:.3f})<br>Galaxy Zoo: {label}"
        for survey, object_id, predicted, confidence, label in zip(
            *(part[name] for name in _HOVER), strict=True
        )
    ]
    return np.array(lines, dtype=str)


def _trace(part: Mapping[str, np.ndarray], **options: Any) -> go.Scatter3d:  # noqa: ANN401
    """Return the points of `part` as one Scatter3d trace with the catalog row as customdata."""
    return go.Scatter3d(
        x=part["x"],
        y=part["y"],
        z=part["z"],
        customdata=part["row"],
        text=_hover_text(part),
        hovertemplate="%{text}<extra></extra>",
        mode="markers",
        **options,
    )


def _colour_traces(part: Mapping[str, np.ndarray], color_by: str) -> list[go.Scatter3d]:
    """Return the sample as one trace per category, or one trace on the confidence scale."""
    if color_by == "confidence":
        stops = np.linspace(0, 1, len(CONFIDENCE_CMAP))
        marker = {
            "size": _MARKER_SIZE,
            "color": part["confidence"],
            "colorscale": [[float(s), c] for s, c in zip(stops, CONFIDENCE_CMAP, strict=True)],
            "cmin": 1 / len(LABELS),
            "cmax": 1.0,
            "colorbar": {"title": {"text": "confidence"}, "len": 0.6},
        }
        return [_trace(part, name="confidence", marker=marker)]
    categories = part[color_by]
    return [
        _trace(
            {name: values[categories == category] for name, values in part.items()},
            name=str(category),
            marker={"size": _MARKER_SIZE, "color": COLOURS.get(category, COLOURS[NO_LABEL_NAME])},
        )
        for category in np.unique(categories)
    ]


def make_embedding_figure(
    frame: Frame,
    *,
    color_by: str = COLOR_COLUMNS[0],
    selection: np.ndarray | Sequence[int] = (),
    selected_row: int | None = None,
    size: int = SAMPLE_SIZE,
) -> go.Figure:
    """Return a 3-D scatter plot of a bounded sample of the embedding and of the selection.

    Parameters
    ----------
    frame
        Plot data with columns ``row``, ``object_id``, ``x``, ``y``, ``z``, ``confidence`` and
        the category columns, e.g. `ReviewSession.points`.
    color_by
        One of `COLOR_COLUMNS`: one trace per category, or one on the confidence scale.
    selection
        Catalog rows of the selection, drawn (at most `MAX_SHOWN`) as dark dots.
    selected_row
        The galaxy shown in detail, drawn as a ring if it is in `frame`.
    size
        The most rows sampled (see `sample_rows`).

    Returns
    -------
    plotly.graph_objects.Figure
        The colour traces, then ``selection`` and ``selected``; every point's ``customdata`` is
        its catalog row. The camera survives updates (``uirevision``).

    Raises
    ------
    ValueError
        If `color_by` is not one of `COLOR_COLUMNS`.

    Examples
    --------
    >>> figure = make_embedding_figure(session.points, color_by="label")  # doctest: +SKIP
    """
    if color_by not in COLOR_COLUMNS:
        msg = f"color_by must be one of {', '.join(COLOR_COLUMNS)}, got {color_by!r}"
        raise ValueError(msg)
    table = as_table(frame)
    sample, selected = sample_rows(table, selection=selection, size=size)
    opened = np.array([] if selected_row is None else [selected_row], dtype=np.int64)
    columns = ("row", "x", "y", "z", *_HOVER, color_by)

    def part(rows: np.ndarray) -> dict[str, np.ndarray]:
        chosen = table.iloc[row_positions(table, rows)]
        return {name: chosen[name].to_numpy() for name in dict.fromkeys(columns)}

    ring = {"size": 4 * _MARKER_SIZE, "color": _SELECTED_COLOUR, "symbol": "circle-open"}
    dots = {"size": _MARKER_SIZE + 1, "color": _SELECTED_COLOUR}
    traces = [
        *_colour_traces(part(sample), color_by),
        _trace(part(selected), name="selection", marker=dots),
        _trace(part(opened), name="selected", marker=ring),
    ]
    figure = go.Figure(traces)
    axes = {f"{axis}axis": {"title": AXIS_LABELS[axis]} for axis in "xyz"}
    figure.update_layout(
        scene=axes,
        uirevision="embedding",
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        legend={"title": {"text": color_by}, "itemsizing": "constant"},
    )
    return figure


class EmbeddingView(View):
    """The 3-D embedding: a bounded sample of the session's rows and its selection.

    Clicking a point opens that galaxy. A 3-D click fires on mouse-down, so starting a
    rotation on a point also opens it.
    """

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self._plot = pn.pane.Plotly(
            self._figure(),
            config={"displaylogo": False},
            sizing_mode="stretch_width",
            height=FIGURE_HEIGHT,
        )
        self._plot.param.watch(self._on_click_data, "click_data")
        names = ["color_by", "misclassified_only", "run", "selected_row", "selection", "survey"]
        self.session.param.watch(self._redraw, names)
        self.session.param.watch(self._on_ledger_state, "ledger_state")

    def _figure(self) -> go.Figure:
        """Draw the session's rows (none when the run has no embedding)."""
        points = self.session.points
        return make_embedding_figure(
            points if points["x"].notna().any() else points.iloc[:0],
            color_by=self.session.color_by,
            selection=self.session.selection,
            selected_row=self.session.selected_row,
        )

    def _redraw(self, *_: param.parameterized.Event) -> None:
        """Show the figure of the session's current state."""
        self._plot.object = self._figure()

    def _on_ledger_state(self, *_: param.parameterized.Event) -> None:
        """Redraw when the figure shows review states."""
        if self.session.color_by == "review":
            self._redraw()

    def _on_click_data(self, event: param.parameterized.Event) -> None:
        """Open the clicked galaxy."""
        points = (event.new or {}).get("points") or []
        if points:
            self.session.selected_row = int(points[0]["customdata"])

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the plot, under a warning while the run has no embedding."""
        return pn.Column(missing_alert(self.session, "embedding"), self._plot)


class ProjectionView(ScatterView):
    """A datashaded 2-D projection of the embedding; a box or lasso selects, a tap opens."""

    projection = param.Selector(
        default="x-y", objects=list(PROJECTIONS), doc="The embedding axes shown (t-SNE 1-3)."
    )

    def axes(self) -> tuple[str, str]:
        """Return the projection's columns."""
        return PROJECTIONS[self.projection]

    def _draw(
        self,
        frame: Frame,
        *,
        x_range: tuple[float, float] | None,
        y_range: tuple[float, float] | None,
    ) -> hv.Element:
        """Draw the projection."""
        return make_embedding_plot(
            frame,
            projection=self.projection,
            color_by=self.session.color_by,
            x_range=x_range,
            y_range=y_range,
        )

    @param.depends("projection", watch=True)
    def _on_projection(self) -> None:
        """Show the new projection."""
        self._rebuild()

    def _controls(self) -> list[pn.viewable.Viewable]:
        """Return the projection buttons and the base controls."""
        buttons = pn.widgets.RadioButtonGroup.from_param(self.param.projection)
        return [buttons, *super()._controls()]

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the controls, plot and legend, under a warning while there is no embedding."""
        return pn.Column(missing_alert(self.session, "embedding"), super().__panel__())

"""The 3-D t-SNE embedding of a run, coloured by category; a click selects a galaxy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import panel as pn
import param
import plotly.graph_objects as go

from dashboard.data_store import CATEGORY_COLUMNS, NO_LABEL_NAME
from dashboard.views.base import View
from store import LABELS, SURVEYS

__all__ = ["EmbeddingView", "make_embedding_figure"]

COLOURS: Mapping[str, str] = {
    **dict(zip(LABELS, ("#e4572e", "#1f77b4"), strict=True)),
    **dict(zip(SURVEYS, ("#7b3294", "#008837"), strict=True)),
    NO_LABEL_NAME: "#9e9e9e",
}
"""Marker colour of each category name."""

PLOT_HEIGHT = 640
"""Height of the 3-D plot in pixels."""

_MARKER_SIZE = 4
_SELECTED_COLOUR = "#111111"


def _hover_text(frame: Mapping[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Describe each point for the hover label (object ids as text: they exceed 2**53).

    An array, not a list, so that Panel sends it as a data source and resends it only if it
    changed.
    """
    lines = [
        f"{survey} {object_id}<br>predicted {predicted} ({confidence:.3f})<br>Galaxy Zoo: {label}"
        for survey, object_id, predicted, confidence, label in zip(
            frame["survey"][mask],
            frame["object_id"][mask],
            frame["predicted"][mask],
            frame["confidence"][mask],
            frame["label"][mask],
            strict=True,
        )
    ]
    return np.array(lines, dtype=str)


def _trace(frame: Mapping[str, np.ndarray], mask: np.ndarray, **options: Any) -> go.Scatter3d:  # noqa: ANN401
    """Return the points of `mask` as one Scatter3d trace with the catalog row as customdata."""
    return go.Scatter3d(
        x=frame["x"][mask],
        y=frame["y"][mask],
        z=frame["z"][mask],
        customdata=frame["row"][mask],
        text=_hover_text(frame, mask),
        hovertemplate="%{text}<extra></extra>",
        mode="markers",
        **options,
    )


def make_embedding_figure(
    frame: Mapping[str, np.ndarray],
    *,
    color_by: str = "predicted",
    selected_ids: Sequence[int] = (),
) -> go.Figure:
    """Return a 3-D scatter plot of the embedding, one trace per category.

    Parameters
    ----------
    frame
        Columns from `dashboard.data_store.select_frame`: ``row``, ``object_id``, ``x``,
        ``y``, ``z``, ``confidence`` and the category columns.
    color_by
        The category column that colours the points, one of `CATEGORY_COLUMNS`.
    selected_ids
        Object ids to highlight with a ring.

    Returns
    -------
    plotly.graph_objects.Figure
        The figure; every point's ``customdata`` is its catalog row. The camera survives
        updates (``uirevision``), so filtering or selecting does not reset a rotation.

    Raises
    ------
    ValueError
        If `color_by` is not a category column.

    Examples
    --------
    >>> figure = make_embedding_figure(store.frame, color_by="label")  # doctest: +SKIP
    """
    if color_by not in CATEGORY_COLUMNS:
        msg = f"color_by must be one of {', '.join(CATEGORY_COLUMNS)}, got {color_by!r}"
        raise ValueError(msg)
    categories = frame[color_by]
    traces = [
        _trace(
            frame,
            categories == name,
            name=str(name),
            marker={"size": _MARKER_SIZE, "color": COLOURS.get(str(name), COLOURS[NO_LABEL_NAME])},
        )
        for name in np.unique(categories)
    ]
    selected = np.isin(frame["object_id"], np.asarray(selected_ids, dtype=np.int64))
    marker = {"size": 3 * _MARKER_SIZE, "color": _SELECTED_COLOUR, "symbol": "circle-open"}
    traces.append(_trace(frame, selected, name="selected", marker=marker))
    figure = go.Figure(traces)
    axes = {f"{axis}axis": {"title": f"t-SNE {k}"} for k, axis in enumerate("xyz", start=1)}
    figure.update_layout(
        scene=axes,
        uirevision="embedding",
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        legend={"title": {"text": color_by}, "itemsizing": "constant"},
    )
    return figure


class EmbeddingView(View):
    """The 3-D embedding of the store's filtered rows; clicking a point selects that galaxy.

    A 3-D click fires on mouse-down, so starting a rotation on a point also selects it.
    """

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self._plot = pn.pane.Plotly(
            self._figure,
            config={"displaylogo": False},
            sizing_mode="stretch_width",
            height=PLOT_HEIGHT,
        )
        self._plot.param.watch(self._on_click_data, "click_data")

    @param.depends(
        "store.color_by",
        "store.misclassified_only",
        "store.run",
        "store.selected_ids",
        "store.survey",
    )
    def _figure(self) -> go.Figure:
        """Draw the store's frame."""
        return make_embedding_figure(
            self.store.frame, color_by=self.store.color_by, selected_ids=self.store.selected_ids
        )

    def _on_click_data(self, event: param.parameterized.Event) -> None:
        """Select the clicked galaxy."""
        points = (event.new or {}).get("points") or []
        if points:
            self.store.selected_row = int(points[0]["customdata"])

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the plot."""
        return self._plot

"""Datashaded scatter plots of the session's rows, with box, lasso and tap selection.

The pure functions draw and query a frame (`ReviewSession.points`, or any mapping of equal-length
columns with ascending catalog rows in ``row``); `ScatterView` wires them to the session. Points
are aggregated into an image on the server (datashader), so what the browser receives does not
grow with the catalog; only the selection is drawn as points, at most `MAX_SHOWN` of them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import colorcet
import datashader as ds
import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh plot options used here
import numpy as np
import pandas as pd
import panel as pn
import param
from holoviews.operation.datashader import datashade, dynspread

from dashboard.data import COLOR_COLUMNS, NO_LABEL_NAME, REVIEW_STATES
from dashboard.views.base import View
from dashboard.views.rows import (
    Frame,
    as_table,
    nearest_row,
    row_positions,
    rows_in_bounds,
    rows_in_lasso,
    stable_sample,
)
from store import LABELS, SURVEYS
from store.schema import OBJECT_COLUMNS, RUN_ARRAYS

__all__ = [
    "COLOURS",
    "CONFIDENCE_CMAP",
    "MAX_SHOWN",
    "ScatterView",
    "make_legend",
    "make_scatter_plot",
    "make_selection_plot",
    "warm_up",
]

COLOURS: Mapping[str, str] = {
    **dict(zip(LABELS, ("#e4572e", "#1f77b4"), strict=True)),
    **dict(zip(SURVEYS, ("#7b3294", "#008837"), strict=True)),
    **dict(zip(REVIEW_STATES, ("#2ca02c", "#d62728", "#ff9f1c", "#6d4c41"), strict=True)),
    NO_LABEL_NAME: "#b0b0b0",
}
"""Colour of each category name."""

CONFIDENCE_CMAP: Sequence[str] = colorcet.bmy
"""Colour map of the confidence, from 1 / number of classes (blue) to 1 (yellow)."""

MAX_SHOWN = 2_000
"""Most selected points drawn as points over an image (a stable sample of a larger selection)."""

PLOT_WIDTH, PLOT_HEIGHT = 520, 440
"""Size of the plot in pixels (axes included), which is also the size of the datashaded image."""

TAP_PIXELS = 6
"""A tap opens the nearest galaxy within this many pixels."""

AXIS_LABELS: Mapping[str, str] = {
    "x": "t-SNE 1",
    "y": "t-SNE 2",
    "z": "t-SNE 3",
    "ra": "RA (deg)",
    "dec": "Dec (deg)",
}

_EMPTY = np.array([], dtype=np.int64)
_SELECTION_OPTS = {"color": "black", "size": 3, "nonselection_alpha": 1.0}
_GALAXY_OPTS = {"color": "#e7298a", "fill_alpha": 0.0, "line_width": 3, "size": 16}


def make_scatter_plot(
    frame: Frame,
    x: str,
    y: str,
    *,
    color_by: str = COLOR_COLUMNS[0],
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    width: int = PLOT_WIDTH,
    height: int = PLOT_HEIGHT,
) -> hv.RGB:
    """Return a datashaded image of the frame's points, coloured by a category or confidence.

    Parameters
    ----------
    frame
        Plot data with columns `x`, `y` and `color_by`.
    x, y
        The columns on the horizontal and vertical axes.
    color_by
        One of `COLOR_COLUMNS`: a category (one colour per `COLOURS` name, mixed where they
        overlap) or ``"confidence"`` (the mean per pixel on `CONFIDENCE_CMAP`).
    x_range, y_range
        The area to draw; by default the points' extent.
    width, height
        Size of the image in pixels.

    Returns
    -------
    holoviews.RGB
        The image, with the box, lasso and tap tools.

    Raises
    ------
    ValueError
        If `color_by` is not one of `COLOR_COLUMNS`.
    """
    if color_by not in COLOR_COLUMNS:
        msg = f"color_by must be one of {', '.join(COLOR_COLUMNS)}, got {color_by!r}"
        raise ValueError(msg)
    table = as_table(frame)
    dims = [hv.Dimension(name, label=AXIS_LABELS.get(name, name)) for name in (x, y)]
    if color_by == "confidence":
        shading = {
            "aggregator": ds.mean(color_by),
            "cmap": list(CONFIDENCE_CMAP),
            "cnorm": "linear",
            "clims": (1 / len(LABELS), 1.0),
        }
    else:
        names = table[color_by].cat.categories
        key = {name: COLOURS.get(name, COLOURS[NO_LABEL_NAME]) for name in names}
        shading = {"aggregator": ds.count_cat(color_by), "color_key": key}
    if table[[x, y]].notna().all(axis=1).any():  # none placed: a run without an embedding
        points = hv.Points(table, kdims=dims, vdims=[color_by])
        image = datashade(
            points,
            dynamic=False,
            x_range=x_range,
            y_range=y_range,
            width=width,
            height=height,
            **shading,
        )
        image = dynspread(image, threshold=0.5, max_px=3, dynamic=False)
    else:
        (left, right), (bottom, top) = x_range or (0, 1), y_range or (0, 1)
        blank = np.zeros((1, 1, 4), dtype=np.uint8)
        image = hv.RGB(blank, kdims=dims, vdims=list("RGBA"), bounds=(left, bottom, right, top))
    return image.opts(
        tools=["box_select", "lasso_select", "tap"],
        active_tools=["wheel_zoom"],
        width=width,
        height=height,
    )


def make_selection_plot(
    frame: Frame,
    x: str,
    y: str,
    *,
    selection: np.ndarray | Sequence[int] = (),
    selected_row: int | None = None,
) -> hv.Overlay:
    """Return the selected rows (at most `MAX_SHOWN`) as dots and the open galaxy as a ring.

    Parameters
    ----------
    frame
        Plot data with columns `x`, `y` and ``row``; selected rows it lacks are not drawn.
    x, y
        The columns on the horizontal and vertical axes.
    selection
        Catalog rows of the selection.
    selected_row
        The catalog row of the galaxy shown in detail, or None.

    Returns
    -------
    holoviews.Overlay
        Two `holoviews.Points` layers: the selection and the open galaxy.
    """
    table = as_table(frame)
    shown = stable_sample(selection, MAX_SHOWN)
    opened = _EMPTY if selected_row is None else np.array([selected_row])
    dims = [hv.Dimension(name, label=AXIS_LABELS.get(name, name)) for name in (x, y)]

    def layer(rows: np.ndarray) -> hv.Points:
        part = table.iloc[row_positions(table, rows)]
        return hv.Points((part[x].to_numpy(), part[y].to_numpy()), kdims=dims)

    return layer(shown).opts(**_SELECTION_OPTS) * layer(opened).opts(**_GALAXY_OPTS)


_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "predicted": LABELS,
    "label": LABELS,
    "survey": SURVEYS,
    "review": REVIEW_STATES,
}


@functools.cache
def warm_up() -> None:
    """Compile datashader's aggregations for every colouring and axis type, once per process.

    Datashader compiles them with numba when they are first used, which takes seconds each:
    call this when the server starts (``panel serve --warm`` runs the app once at start-up)
    so that no session waits.
    """
    embedding, sky = RUN_ARRAYS["embedding"][0], OBJECT_COLUMNS["ra"]
    frame = pd.DataFrame(
        {
            **{name: np.arange(2, dtype=embedding) for name in ("x", "y")},
            **{name: np.arange(2, dtype=sky) for name in ("ra", "dec")},
            "confidence": np.ones(2, dtype=RUN_ARRAYS["probs"][0]),
            **{
                name: pd.Categorical.from_codes([0, 1], [*names, NO_LABEL_NAME])
                for name, names in _CATEGORIES.items()
            },
        }
    )
    for axes in (("x", "y"), ("ra", "dec")):
        for color_by in COLOR_COLUMNS:
            make_scatter_plot(frame, *axes, color_by=color_by)  # the whole extent, and a zoom
            make_scatter_plot(frame, *axes, color_by=color_by, x_range=(0, 1), y_range=(0, 1))


def make_legend(color_by: str) -> str:
    """Return an HTML key of the confidence scale, which a datashaded image does not show.

    Parameters
    ----------
    color_by
        One of `COLOR_COLUMNS`.

    Returns
    -------
    str
        The scale for ``"confidence"``; empty for a category (the plot shows its legend).
    """
    if color_by != "confidence":
        return ""
    stops = ", ".join(CONFIDENCE_CMAP[:: len(CONFIDENCE_CMAP) // 8])
    style = (
        f"display:inline-block;width:120px;height:10px;background:linear-gradient(90deg, {stops})"
    )
    return f'confidence {1 / len(LABELS):.1f} <span style="{style}"></span> 1.0'


def _extent(values: np.ndarray, shown: tuple[float, float] | None) -> float:
    """Return the width of the shown range, or of the values before the plot reports one."""
    low, high = shown or (np.min(values), np.max(values))
    return max(abs(float(high) - float(low)), 1e-12)


class ScatterView(View):
    """Base of the datashaded views of `ReviewSession.points`, linked through the session.

    A box or lasso selects the rows inside it (`ReviewSession.select_rows`), a tap opens the
    nearest galaxy (`ReviewSession.selected_row`); the selection is drawn over the image.
    Subclasses name the two columns on the axes (`axes`) and draw the image (`_draw`).
    """

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self._pane = pn.pane.HoloViews(self._plot(), linked_axes=False)
        watch = self.session.param.watch
        watch(self._on_filters, ["color_by", "misclassified_only", "survey"])
        watch(self._on_ledger_state, "ledger_state")
        watch(self._on_selection, ["selection", "selected_row"])
        watch(self._rebuild, "run")

    def axes(self) -> tuple[str, str]:
        """Return the frame columns on the horizontal and vertical axes."""
        raise NotImplementedError

    def _draw(
        self,
        frame: Frame,
        *,
        x_range: tuple[float, float] | None,
        y_range: tuple[float, float] | None,
    ) -> hv.Element:
        """Return the datashaded image of `frame` over the given area."""
        raise NotImplementedError

    def _plot(self) -> hv.DynamicMap:
        """Build the image and the selection layer with fresh streams for the current axes."""
        self._range = hv.streams.RangeXY()
        self._data = hv.streams.Stream()
        self._shown = hv.streams.Stream()
        image = hv.DynamicMap(self._image, streams=[self._range, self._data])
        selected = hv.DynamicMap(self._selected, streams=[self._shown])
        self._bounds = hv.streams.BoundsXY(source=image)
        self._lasso = hv.streams.Lasso(source=image)
        self._tap = hv.streams.Tap(source=image)
        self._bounds.add_subscriber(self._on_bounds)
        self._lasso.add_subscriber(self._on_lasso)
        self._tap.add_subscriber(self._on_tap)
        return image * selected

    def _image(
        self, x_range: tuple[float, float] | None, y_range: tuple[float, float] | None
    ) -> hv.Element:
        """Draw the session's rows over the plot's area (which a flipped axis reports reversed)."""
        x_range, y_range = (
            None if span is None else tuple(sorted(span)) for span in (x_range, y_range)
        )
        return self._draw(self.session.points, x_range=x_range, y_range=y_range)

    def _selected(self) -> hv.Overlay:
        """Draw the session's selection and open galaxy."""
        x, y = self.axes()
        return make_selection_plot(
            self.session.points,
            x,
            y,
            selection=self.session.selection,
            selected_row=self.session.selected_row,
        )

    def _on_bounds(self, bounds: tuple[float, float, float, float] | None) -> None:
        """Select the rows in the box."""
        if bounds is not None:
            self.session.select_rows(rows_in_bounds(self.session.points, *self.axes(), bounds))

    def _on_lasso(self, geometry: np.ndarray | None) -> None:
        """Select the rows in the lasso."""
        if geometry is not None:
            self.session.select_rows(rows_in_lasso(self.session.points, *self.axes(), geometry))

    def _on_tap(self, x: float | None, y: float | None) -> None:
        """Open the galaxy nearest to the tap, if one is within `TAP_PIXELS`."""
        frame, axes = self.session.points, self.axes()
        if x is None or y is None or not len(frame):
            return
        shown = (self._range.x_range, self._range.y_range)
        radius = tuple(
            TAP_PIXELS * _extent(frame[name], span) / pixels
            for name, span, pixels in zip(axes, shown, (PLOT_WIDTH, PLOT_HEIGHT), strict=True)
        )
        row = nearest_row(frame, *axes, (x, y), radius)
        if row is not None:
            self.session.selected_row = row

    def _on_filters(self, *_: param.parameterized.Event) -> None:
        """Redraw the image and the selection for new rows or colours."""
        self._data.event()
        self._shown.event()

    def _on_ledger_state(self, *_: param.parameterized.Event) -> None:
        """Redraw the image when it shows review states."""
        if self.session.color_by == "review":
            self._data.event()

    def _on_selection(self, *_: param.parameterized.Event) -> None:
        """Redraw the selection."""
        self._shown.event()

    def _rebuild(self, *_: param.parameterized.Event) -> None:
        """Show a new plot (new axes or run): the old zoom no longer applies."""
        self._pane.object = self._plot()

    @param.depends("session.color_by")
    def _legend(self) -> str:
        """Return the legend of the current colouring."""
        return make_legend(self.session.color_by)

    def _controls(self) -> list[pn.viewable.Viewable]:
        """Return the widgets shown above the plot."""
        clear = pn.widgets.Button(name="Clear selection", button_type="light")
        clear.on_click(lambda _: self.session.select_rows(_EMPTY))
        return [clear]

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the controls, the plot and the legend."""
        return pn.Column(pn.Row(*self._controls()), self._pane, pn.pane.HTML(self._legend))

"""The datashaded embedding projections, the bounded 3-D view and their selection streams."""

from __future__ import annotations

from unittest import mock

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import Plot
from bokeh.protocol import Protocol
from matplotlib.colors import to_rgb
from matplotlib.path import Path

from dashboard.data import COLOR_COLUMNS
from dashboard.session import ReviewSession
from dashboard.views import EmbeddingView, ProjectionView, make_embedding_figure
from dashboard.views.datashaded import (
    COLOURS,
    CONFIDENCE_CMAP,
    MAX_SHOWN,
    make_legend,
    make_selection_plot,
)
from dashboard.views.embedding import SAMPLE_SIZE, make_embedding_plot, sample_rows
from dashboard.views.rows import (
    LASSO_TOLERANCE,
    nearest_row,
    rows_in_bounds,
    rows_in_lasso,
    simplify_polygon,
    stable_sample,
)
from store import LABELS, SURVEYS, Workspace


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


def in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd ray casting, one edge at a time: the reference for the lasso."""
    inside = np.zeros(len(x), dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


def min_distance(point: np.ndarray, edges: np.ndarray) -> float:
    """Return the distance from a point to the nearest of `edges` (n, 2, 2) segments."""
    start, step = edges[:, 0], edges[:, 1] - edges[:, 0]
    length2 = np.maximum((step * step).sum(axis=1), 1e-300)
    t = (((point - start) * step).sum(axis=1) / length2).clip(0, 1)
    return float(np.hypot(*(point - start - t[:, None] * step).T).min())


def document_bytes(obj: object) -> int:
    """Return what the server sends for a document holding only `obj` (JSON and buffers)."""
    document = Document()
    document.add_root(pn.panel(obj).get_root(document))
    message = Protocol().create("PULL-DOC-REPLY", "0", document)
    parts = (message.header_json, message.metadata_json, message.content_json)
    return sum(map(len, parts)) + sum(len(buffer.to_bytes()) for buffer in message.buffers)


def random_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row": np.arange(n),
            **{axis: rng.normal(0, 1, n).astype(np.float32) for axis in "xyz"},
            "object_id": np.arange(n) + 500_000_000,
            "confidence": rng.uniform(0.5, 1, n).astype(np.float32),
            **{
                name: pd.Categorical.from_codes(rng.integers(0, 3, n), [*names, "none"])
                for name, names in (("predicted", LABELS), ("label", LABELS), ("survey", SURVEYS))
            },
        }
    )


def pixels(image: hv.RGB) -> np.ndarray:
    """Return the RGB of the image's non-transparent pixels, (n, 3) in [0, 1]."""
    rgba = np.dstack([image.dimension_values(k, flat=False) for k in range(2, 6)])
    return rgba[rgba[..., 3] > 0][:, :3] / 255


class TestRowsIn:
    def test_box_is_what_numpy_says(self, session):
        frame = session.points
        x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
        left, right = np.quantile(x, [0.2, 0.7])
        bottom, top = np.quantile(y, [0.1, 0.6])
        expected = frame["row"].to_numpy()[(x >= left) & (x <= right) & (y >= bottom) & (y <= top)]
        assert 0 < len(expected) < len(frame)
        rows = rows_in_bounds(frame, "x", "y", (left, bottom, right, top))
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_array_equal(
            rows_in_bounds(frame, "x", "y", (right, top, left, bottom)), expected
        )

    def test_box_edges_are_inside(self, session):
        frame = session.points
        x, y = float(frame["x"].iloc[7]), float(frame["y"].iloc[7])
        assert rows_in_bounds(frame, "x", "y", (x, y, x, y)).tolist() == [frame["row"].iloc[7]]

    def test_box_on_a_mapping_of_arrays(self, session):
        frame = session.frame
        rows = rows_in_bounds(frame, "x", "z", (-1, -1, 1, 1))
        inside = (abs(frame["x"]) <= 1) & (abs(frame["z"]) <= 1)
        np.testing.assert_array_equal(rows, frame["row"][inside])

    @pytest.mark.parametrize(
        "polygon",
        [
            pytest.param([(-2, -2), (3, -1), (0, 4)], id="triangle"),
            pytest.param([(-3, -3), (3, -3), (3, 3), (0, -1), (-3, 3)], id="concave"),
            pytest.param([(-3, -3), (3, 3), (3, -3), (-3, 3)], id="self-crossing"),
        ],
    )
    def test_lasso_is_what_numpy_says(self, session, polygon):
        frame, polygon = session.points, np.array(polygon, dtype=float)
        x, y = frame["x"].to_numpy(), frame["z"].to_numpy()
        expected = frame["row"].to_numpy()[in_polygon(x, y, polygon)]
        assert 0 < len(expected) < len(frame)
        np.testing.assert_array_equal(rows_in_lasso(frame, "x", "z", polygon), expected)

    def test_a_long_lasso_is_simplified_within_the_tolerance(self):
        """A smooth 100k-vertex lasso selects what it would unsimplified, but near its edge."""
        theta = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
        radius = 1.5 + 0.4 * np.sin(5 * theta)
        polygon = np.c_[radius * np.cos(theta), radius * np.sin(theta)]
        tolerance = LASSO_TOLERANCE * np.ptp(polygon, axis=0).max()
        rng = np.random.default_rng(0)
        near = polygon[rng.integers(0, len(polygon), 1000)]
        points = np.vstack(
            [rng.uniform(-2, 2, (1000, 2)), near + rng.normal(0, 2 * tolerance, near.shape)]
        )
        frame = {"x": points[:, 0], "y": points[:, 1], "row": np.arange(len(points))}
        with mock.patch("dashboard.views.rows.Path", wraps=Path) as path:
            rows = rows_in_lasso(frame, "x", "y", polygon)
        assert len(path.call_args.args[0]) <= 500
        expected = np.flatnonzero(Path(polygon).contains_points(points))
        differ = np.setxor1d(rows, expected)
        assert len(differ) < 0.1 * len(near)
        edges = np.stack([polygon, np.roll(polygon, -1, axis=0)], axis=1)
        for point in points[differ]:
            assert min_distance(point, edges) <= tolerance

    def test_simplified_polygon_stays_within_the_tolerance(self):
        rng = np.random.default_rng(1)
        polygon = np.cumsum(rng.normal(0, 1, (2000, 2)), axis=0)
        simple = simplify_polygon(polygon, 0.5)
        assert 3 <= len(simple) < len(polygon)
        edges = np.stack([simple, np.roll(simple, -1, axis=0)], axis=1)
        assert max(min_distance(vertex, edges) for vertex in polygon) <= 0.5
        np.testing.assert_array_equal(simplify_polygon(polygon, 0.0), polygon)

    def test_lasso_needs_three_vertices(self, session):
        assert rows_in_lasso(session.points, "x", "y", np.array([[0, 0], [1, 1]])).size == 0

    def test_nearest_row_within_the_radius(self, session):
        frame = session.points
        x, y = float(frame["x"].iloc[11]), float(frame["y"].iloc[11])
        assert nearest_row(frame, "x", "y", (x + 1e-4, y), (0.01, 0.01)) == frame["row"].iloc[11]
        assert nearest_row(frame, "x", "y", (100.0, 100.0), (0.01, 0.01)) is None
        assert nearest_row(frame.iloc[:0], "x", "y", (x, y), (1.0, 1.0)) is None


class TestStableSample:
    def test_bounded_sorted_and_repeatable(self):
        rows = np.arange(0, 50_000, 3)
        sample = stable_sample(rows, 100)
        assert len(sample) == 100
        assert np.isin(sample, rows).all()
        assert (np.diff(sample) > 0).all()
        np.testing.assert_array_equal(stable_sample(rows[::-1], 100), sample)
        assert not np.array_equal(stable_sample(rows, 100, seed=1), sample)

    def test_rows_stay_in_the_sample_of_a_subset(self):
        rows = np.arange(20_000)
        subset = rows[rows % 2 == 0]
        kept = np.intersect1d(stable_sample(rows, 500), subset)
        assert np.isin(kept, stable_sample(subset, 500)).all()

    def test_small_sets_are_kept_whole(self):
        np.testing.assert_array_equal(stable_sample([5, 2, 9], 10), [2, 5, 9])


class TestMakeEmbeddingPlot:
    @pytest.mark.parametrize(("projection", "axes"), [("x-y", ["x", "y"]), ("y-z", ["y", "z"])])
    def test_projection_axes(self, session, projection, axes):
        image = make_embedding_plot(session.points, projection=projection, width=60, height=40)
        assert isinstance(image, hv.RGB)
        assert [dim.name for dim in image.kdims] == axes
        assert image.dimension_values(2, flat=False).shape == (40, 60)

    def test_categories_in_their_colours(self):
        frame = random_frame(2_000)
        only_spirals = frame[frame["predicted"] == "spiral"]
        colours = pixels(make_embedding_plot(only_spirals, width=80, height=60))
        np.testing.assert_allclose(
            colours, np.broadcast_to(to_rgb(COLOURS["spiral"]), colours.shape), atol=0.02
        )
        mixed = pixels(make_embedding_plot(frame, width=80, height=60))
        assert len(np.unique(mixed.round(2), axis=0)) > 3

    @pytest.mark.parametrize(("confidence", "end"), [(0.5, 0), (1.0, -1)])
    def test_confidence_on_the_colour_map(self, confidence, end):
        frame = random_frame(500).assign(confidence=np.float32(confidence))
        colours = pixels(make_embedding_plot(frame, color_by="confidence", width=40, height=30))
        expected = np.broadcast_to(to_rgb(CONFIDENCE_CMAP[end]), colours.shape)
        np.testing.assert_allclose(colours, expected, atol=0.02)

    def test_review_state_colours(self, session):
        session.workspace.ledger().record_decision(
            int(session.points["object_id"].iloc[0]), "artefact", reviewer="ana"
        )
        session.ledger_state = session.workspace.ledger().state()
        assert session.points["review"].iloc[0] == "artefact"
        assert (session.points["review"].iloc[1:] == "none").all()
        image = make_embedding_plot(session.points, color_by="review", width=60, height=40)
        assert len(pixels(image)) > 0

    def test_empty_frame(self, session):
        image = make_embedding_plot(session.points.iloc[:0], x_range=(0, 1), y_range=(2, 3))
        assert image.bounds.lbrt() == (0, 2, 1, 3)

    def test_unknown_projection_or_colour(self, session):
        with pytest.raises(ValueError, match="projection must be one of x-y, x-z, y-z"):
            make_embedding_plot(session.points, projection="x-x")
        with pytest.raises(ValueError, match="color_by must be one of predicted, label, survey"):
            make_embedding_plot(session.points, color_by="ra")

    def test_model_of_200000_points_is_small(self):
        assert document_bytes(make_embedding_plot(random_frame(200_000))) < 2_000_000

    @pytest.mark.parametrize("color_by", COLOR_COLUMNS)
    def test_legend_is_the_confidence_scale(self, color_by):
        legend = make_legend(color_by)
        if color_by == "confidence":
            assert legend.startswith("confidence 0.5 <span")
            assert CONFIDENCE_CMAP[0] in legend
        else:
            assert legend == ""


class TestSelectionPlot:
    def test_selection_and_open_galaxy(self, session):
        rows = session.points["row"].to_numpy()
        overlay = make_selection_plot(session.points, "x", "y", selection=rows[:30], selected_row=5)
        selected, opened = overlay
        np.testing.assert_array_equal(selected.dimension_values("x"), session.points["x"].iloc[:30])
        assert opened.dimension_values("y").tolist() == [session.points["y"].iloc[5]]

    def test_selection_is_bounded(self, session, monkeypatch):
        monkeypatch.setattr("dashboard.views.datashaded.MAX_SHOWN", 10)
        selected, opened = make_selection_plot(session.points, "x", "y", selection=np.arange(150))
        assert (len(selected), len(opened)) == (10, 0)

    def test_rows_outside_the_frame_are_left_out(self, session):
        session.survey = "des"
        selected, _ = make_selection_plot(session.points, "x", "y", selection=[0, 1, 150])
        assert len(selected) == 1


class TestSample3D:
    def test_bounded_stable_and_holding_the_selection(self):
        frame = random_frame(200_000)
        selection = np.arange(10, 500, 7)
        sample, selected = sample_rows(frame, selection=selection)
        assert len(sample) == SAMPLE_SIZE
        np.testing.assert_array_equal(selected, selection)
        again, _ = sample_rows(frame.iloc[::2], selection=selection)
        assert np.isin(np.intersect1d(sample, frame["row"].iloc[::2]), again).all()

    def test_large_selection_is_bounded(self):
        _, selected = sample_rows(random_frame(10_000), selection=np.arange(10_000))
        assert len(selected) == MAX_SHOWN

    def test_figure_size_does_not_grow_with_the_catalog(self):
        figure = make_embedding_figure(random_frame(200_000), selection=np.arange(5_000))
        assert sum(len(trace.x) for trace in figure.data) == SAMPLE_SIZE + MAX_SHOWN
        assert len(figure.to_json()) < 2_000_000


class TestMakeEmbeddingFigure:
    def test_one_trace_per_category_then_selection(self, session):
        figure = make_embedding_figure(session.points)
        names = [trace.name for trace in figure.data]
        assert names == ["elliptical", "spiral", "selection", "selected"]
        assert sum(len(trace.x) for trace in figure.data[:2]) == session.count
        assert figure.data[0].marker.color == COLOURS["elliptical"]
        assert (len(figure.data[2].x), len(figure.data[3].x)) == (0, 0)
        assert figure.layout.uirevision == "embedding"

    def test_customdata_is_the_catalog_row(self, session):
        session.misclassified_only = True
        figure = make_embedding_figure(session.points, color_by="survey")
        rows = np.concatenate([trace.customdata for trace in figure.data[:-2]])
        assert sorted(rows) == sorted(session.frame["row"])
        assert [trace.name for trace in figure.data] == ["des", "sdss", "selection", "selected"]

    def test_selection_and_selected_galaxy(self, session):
        figure = make_embedding_figure(session.points, selection=[3, 17, 199], selected_row=120)
        assert list(figure.data[-2].customdata) == [3, 17]
        (text,) = figure.data[-1].text
        assert text.startswith("des 500000020<br>predicted ")
        assert list(figure.data[-1].customdata) == [120]

    def test_confidence_is_one_trace_on_a_colour_scale(self, session):
        figure = make_embedding_figure(session.points, color_by="confidence")
        trace = figure.data[0]
        assert trace.name == "confidence"
        np.testing.assert_allclose(trace.marker.color, session.points["confidence"])
        assert (trace.marker.cmin, trace.marker.cmax) == (0.5, 1.0)

    def test_unknown_color_by(self, session):
        match = "color_by must be one of predicted, label, survey, review, confidence"
        with pytest.raises(ValueError, match=match):
            make_embedding_figure(session.points, color_by="ra")


class TestProjectionView:
    def test_box_selects_the_rows_passing_the_filters(self, session):
        view = ProjectionView(session=session)
        session.survey = "sdss"
        bounds = (-2.0, -2.0, 8.0, 4.0)
        view._bounds.event(bounds=bounds)
        np.testing.assert_array_equal(
            session.selection, rows_in_bounds(session.points, "x", "y", bounds)
        )
        assert len(session.selection) > 0
        assert (session.selection < 100).all()

    def test_lasso_in_another_projection(self, session):
        view = ProjectionView(session=session, projection="x-z")
        polygon = np.array([[-3.0, -3.0], [9.0, -5.0], [2.0, 3.0]])
        view._lasso.event(geometry=polygon)
        expected = rows_in_lasso(session.points, "x", "z", polygon)
        assert len(expected) > 0
        np.testing.assert_array_equal(session.selection, expected)

    def test_new_projection_gets_new_streams(self, session):
        view = ProjectionView(session=session)
        old = view._bounds
        view.projection = "y-z"
        assert view._bounds is not old
        view._bounds.event(bounds=(-1, -1, 1, 1))
        np.testing.assert_array_equal(
            session.selection, rows_in_bounds(session.points, "y", "z", (-1, -1, 1, 1))
        )

    def test_tap_opens_the_galaxy_under_it(self, session):
        view = ProjectionView(session=session)
        point = session.points.iloc[42]
        view._tap.event(x=float(point["x"]) + 1e-3, y=float(point["y"]))
        assert session.selected_row == point["row"]
        view._tap.event(x=1e3, y=1e3)
        assert session.selected_row == point["row"]

    def test_selection_is_drawn(self, session):
        view = ProjectionView(session=session)
        session.select_rows([4, 5, 6])
        session.selected_row = 9
        selected, opened = view._selected()
        assert (len(selected), len(opened)) == (3, 1)
        view.__panel__().select(pn.widgets.Button)[0].clicks += 1
        assert session.selection.size == 0

    def test_renders_datashaded_bokeh_plot(self, session):
        root = pn.panel(ProjectionView(session=session)).get_root(Document())
        tools = {
            type(tool).__name__
            for plot in root.select({"type": Plot})
            for tool in plot.toolbar.tools
        }
        assert {"BoxSelectTool", "LassoSelectTool", "TapTool"} <= tools

    def test_projection_param_is_documented(self):
        assert ProjectionView.param.projection.doc
        assert set(ProjectionView.param) == {"name", "projection", "session"}


class TestEmbeddingView:
    def test_figure_maps_store_params(self, session, monkeypatch):
        session.param.update(color_by="label", selected_row=4)
        session.select_rows([7, 8])
        calls = []
        monkeypatch.setattr(
            "dashboard.views.embedding.make_embedding_figure",
            lambda *args, **kwargs: calls.append((args, kwargs))
            or make_embedding_figure(*args, **kwargs),
        )
        EmbeddingView(session=session)
        ((args, kwargs),) = calls
        assert args == (session.points,)
        assert (kwargs["color_by"], kwargs["selected_row"]) == ("label", 4)
        assert kwargs["selection"].tolist() == [7, 8]

    def test_pane_follows_filters_and_selection(self, session):
        view = EmbeddingView(session=session)
        session.survey = "des"
        assert sum(len(trace.x) for trace in view._plot.object.data) == 99
        session.select_rows([150, 151])
        assert list(view._plot.object.data[-2].customdata) == [150, 151]

    def test_review_colours_follow_decisions(self, session):
        view = EmbeddingView(session=session)
        session.color_by = "review"
        session.selected_row = 17
        session.decide("approve")
        assert "approved" in {trace.name for trace in view._plot.object.data}

    def test_click_opens_the_galaxy(self, session):
        view = EmbeddingView(session=session)
        view._plot.click_data = {"points": [{"customdata": 17, "x": 0.1}]}
        assert session.selected_row == 17
        assert session.selected_ids == [1237650000000000017]

    def test_click_without_points_keeps_the_galaxy(self, session):
        session.selected_row = 4
        EmbeddingView(session=session)._plot.click_data = {"points": []}
        assert session.selected_row == 4

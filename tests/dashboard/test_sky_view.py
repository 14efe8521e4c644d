"""The datashaded sky map: RA/Dec plot, selection shared with the embedding, tap."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from dashboard.session import ReviewSession
from dashboard.views import ProjectionView, SkyView, make_sky_plot
from dashboard.views.rows import rows_in_bounds, rows_in_lasso
from store import Workspace


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


class TestMakeSkyPlot:
    def test_ra_dec_with_ra_to_the_left(self, session):
        image = make_sky_plot(session.points, color_by="survey", width=50, height=40)
        assert isinstance(image, hv.RGB)
        assert [dim.name for dim in image.kdims] == ["ra", "dec"]
        assert [dim.label for dim in image.kdims] == ["RA (deg)", "Dec (deg)"]
        assert hv.Store.lookup_options("bokeh", image, "plot").kwargs["invert_xaxis"]
        left, bottom, right, top = image.bounds.lbrt()
        ra, dec = session.points["ra"], session.points["dec"]
        assert (left, right) == pytest.approx((ra.min(), ra.max()))
        assert (bottom, top) == pytest.approx((dec.min(), dec.max()))

    def test_zoomed_area(self, session):
        image = make_sky_plot(session.points, x_range=(9.8, 10.2), y_range=(-0.1, 0.3))
        assert image.bounds.lbrt() == pytest.approx((9.8, -0.1, 10.2, 0.3))

    def test_unknown_colour(self, session):
        with pytest.raises(ValueError, match="color_by must be one of"):
            make_sky_plot(session.points, color_by="dec")


class TestSkyView:
    def test_box_selects_rows_on_the_sky(self, session):
        view = SkyView(session=session)
        bounds = (10.2, -0.3, 9.7, 0.1)  # as a flipped RA axis reports it: right to left
        view._bounds.event(bounds=bounds)
        expected = rows_in_bounds(session.points, "ra", "dec", bounds)
        ra, dec = session.points["ra"].to_numpy(), session.points["dec"].to_numpy()
        inside = (ra >= 9.7) & (ra <= 10.2) & (dec >= -0.3) & (dec <= 0.1)
        np.testing.assert_array_equal(expected, session.points["row"].to_numpy()[inside])
        np.testing.assert_array_equal(session.selection, expected)
        assert len(expected) > 0

    def test_lasso_selects_rows_on_the_sky(self, session):
        view = SkyView(session=session)
        polygon = np.array([[9.6, -0.4], [10.4, -0.4], [10.0, 0.4]])
        view._lasso.event(geometry=polygon)
        expected = rows_in_lasso(session.points, "ra", "dec", polygon)
        assert len(expected) > 0
        np.testing.assert_array_equal(session.selection, expected)

    def test_tap_opens_the_galaxy(self, session):
        view = SkyView(session=session)
        point = session.points.iloc[60]
        view._tap.event(x=float(point["ra"]), y=float(point["dec"]) + 1e-5)
        assert session.selected_row == point["row"]

    def test_selection_is_shared_with_the_embedding(self, session):
        sky, projection = SkyView(session=session), ProjectionView(session=session)
        sky._bounds.event(bounds=(9.5, -0.5, 10.0, 0.0))
        selected, _ = projection._selected()
        assert len(selected) == len(session.selection) > 0
        np.testing.assert_array_equal(
            np.sort(selected.dimension_values("x")),
            np.sort(session.points.set_index("row").loc[session.selection, "x"].to_numpy()),
        )

    def test_reversed_ranges_are_drawn(self, session):
        view = SkyView(session=session)
        image = view._image(x_range=(10.3, 9.7), y_range=(-0.2, 0.2))
        assert image.bounds.lbrt() == pytest.approx((9.7, -0.2, 10.3, 0.2))

    def test_new_run_gets_a_new_plot(self, session):
        view = SkyView(session=session)
        plot = view._pane.object
        session.run = "r0"
        assert view._pane.object is not plot

    def test_declares_only_the_store(self):
        assert set(SkyView.param) == {"name", "session"}

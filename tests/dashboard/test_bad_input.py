"""Bad input gets a clear message in the page, never a broken page, and loses no decision.

A workspace without runs, runs without an embedding or predictions, missing and corrupt image
chunks, a locked ledger and links naming an unknown run or row: each through the Panel objects
in-process (the session, the views, the page), the thumbnails through a real Tornado server.
"""

from __future__ import annotations

import contextlib
import html
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from unittest import mock

import holoviews as hv
import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from panel.io.location import Location
from playwright.sync_api import sync_playwright

from dashboard import app
from dashboard.data import COLOR_COLUMNS
from dashboard.notices import apply_url_args, markdown_text
from dashboard.run_state import missing_message, no_run_message
from dashboard.session import LEDGER_TIMEOUT, ReviewSession
from dashboard.thumbnails import placeholder_png, thumbnail_png
from dashboard.views import (
    DecisionsView,
    EmbeddingView,
    GalaxyView,
    GridView,
    MetricsView,
    ProjectionView,
    RetrainView,
    ReviewView,
    SkyView,
)
from dashboard.views.galaxy import THUMBNAIL_SIZE
from dashboard.views.sky import make_sky_plot
from store import NO_LABEL, LedgerLockedError, Workspace
from tests.dashboard import browser
from tests.dashboard.test_routes import get, serving
from tests.dashboard.test_thumbnails import chunk_file

VIEWS = (
    ProjectionView,
    SkyView,
    EmbeddingView,
    GalaxyView,
    ReviewView,
    GridView,
    DecisionsView,
    MetricsView,
    RetrainView,
)
N_CURATED = 199  # the toy catalog's 200 objects, one failed curation
FIRST_SESSION_S = 240


def render_every_view(session: ReviewSession) -> None:
    """Build each view's Bokeh model, as a browser session would: nothing may raise."""
    for view in VIEWS:
        pn.panel(view(session=session)).get_root(Document())


def alerts(layout: pn.viewable.Viewable) -> list[str]:
    """The text of the visible alerts in a layout, as a reader sees it (entities decoded)."""
    return [html.unescape(a.object) for a in layout.select(pn.pane.Alert) if a.visible]


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


@pytest.fixture
def unpredicted(review_workspace: Workspace) -> Workspace:
    """The review workspace plus r3: trained (it has a training set), never predicted."""
    catalog = review_workspace.catalog()
    run = catalog.create_run("r3", created="2024-04-01T00:00:00+00:00", status="trained")
    run.write("train_index", np.arange(10))
    run.write("train_label", np.zeros(10, dtype=np.int8))
    return review_workspace


class TestWorkspaceWithoutRuns:
    def test_the_store_shows_the_catalog_without_predictions(self, toy_workspace):
        session = ReviewSession(workspace=toy_workspace, reviewer="ana")
        assert (session.run, session.param.run.objects) == (None, [])
        assert session.count == N_CURATED
        assert np.isnan(session.points["x"]).all()
        assert np.isfinite(session.points["ra"]).all()
        for colour in COLOR_COLUMNS:  # the sky map, whatever colours it
            hv.render(make_sky_plot(session.points, color_by=colour), backend="bokeh")
        session.selected_row = 5
        assert session.galaxy.predicted == NO_LABEL
        assert (
            "| Predicted | none: no prediction in this run |"
            in GalaxyView(session=session)._details()
        )

    def test_the_page_opens_and_says_which_command_makes_a_run(self, toy_workspace):
        session = app.open_session(toy_workspace.root)
        page = app.build_app(session, url_args={})
        notice, tabs = page.main
        root = toy_workspace.root
        assert notice.object == markdown_text(no_run_message(toy_workspace))
        (text,) = alerts(notice)
        assert text.startswith(f"no run in workspace {root} yet: the catalog's galaxies are shown")
        assert f"'galcore demo --workspace {root}'" in text
        assert f"'galcore train --workspace {root} --run r1'" in text
        assert list(tabs._names) == ["Review", "Decisions", "Metrics", "Retrain"]
        render_every_view(session)

    def test_views_that_need_predictions_say_so(self, toy_workspace):
        session = ReviewSession(workspace=toy_workspace, reviewer="ana")
        expected = no_run_message(toy_workspace)
        for view in (ProjectionView, EmbeddingView, GridView):
            assert alerts(view(session=session).__panel__()) == [expected]
        assert alerts(pn.panel(MetricsView(session=session)._content())) == [expected]
        jobs = RetrainView(session=session)
        jobs.start()
        assert alerts(jobs._error) == [expected]
        assert alerts(SkyView(session=session).__panel__()) == []

    def test_selection_queue_and_decisions_without_a_label_work(self, toy_workspace):
        session = ReviewSession(workspace=toy_workspace, reviewer="ana")
        grid = GridView(session=session)
        assert len(session.queue_frame("confident")["row"]) == 0
        session.select_rows([10, 11, 12])
        assert grid.page["row"].tolist() == [10, 11, 12]
        assert grid.decide("approve") == []
        assert "no prediction" in grid._message.object
        ids = grid.decide("unsure")
        assert len(ids) == 3
        rows = toy_workspace.ledger().table()
        assert {(row.decision, row.run) for row in rows} == {("unsure", None)}


class TestRunsMissingArrays:
    def test_every_run_is_offered_and_the_newest_embedded_shown(self, unpredicted):
        session = ReviewSession(workspace=unpredicted)
        assert (session.run, session.param.run.objects) == ("r1", ["r0", "r1", "r2", "r3"])

    def test_run_without_embedding(self, session, review_workspace):
        projection, sky, grid = (
            view(session=session) for view in (ProjectionView, SkyView, GridView)
        )
        panes = {view: view.__panel__() for view in (projection, sky, grid)}
        session.run = "r2"
        command = f"--workspace {review_workspace.root} --run r2"
        expected = f"run r2 has no embedding: run 'galcore embed {command}'"
        assert missing_message(review_workspace, "r2", "embedding") == expected
        assert alerts(panes[projection]) == [expected]
        assert alerts(panes[sky]) == alerts(panes[grid]) == []
        assert session.count == N_CURATED  # the sky and the queues have its predictions
        assert len(session.queue_frame("confident")["row"]) > 0
        assert sum(len(trace.x) for trace in EmbeddingView(session=session)._figure().data) == 0
        session.selected_row = 17
        assert session.decide("approve") > 0
        render_every_view(session)
        session.run = "r1"
        assert alerts(panes[projection]) == []

    def test_run_without_predictions(self, unpredicted):
        session = ReviewSession(workspace=unpredicted, run="r3", reviewer="ana")
        command = f"--workspace {unpredicted.root} --run r3"
        predict = f"run r3 has no predictions: run 'galcore predict {command}'"
        both = (
            f"run r3 has no predictions and no embedding: run 'galcore predict {command}',"
            f" then 'galcore embed {command}'"
        )
        assert alerts(GridView(session=session).__panel__()) == [predict]
        assert alerts(ProjectionView(session=session).__panel__()) == [both]
        assert session.count == N_CURATED  # the sky shows every curated galaxy
        assert len(session.queue_frame("uncertain")["row"]) == 0
        session.selected_row = 3
        review = ReviewView(session=session)
        review._decide("approve")
        assert "has no prediction in run 'r3'" in review._error.object
        render_every_view(session)

    @pytest.mark.parametrize(
        ("attrs", "text"),
        [
            pytest.param(
                {"status": "failed", "error": "NaN loss"},
                "run r4 has no predictions: its training failed (NaN loss); train a new run",
                id="failed",
            ),
            pytest.param(
                {"status": "training"},
                "run r4 has no predictions: it is still training; when it has finished, run",
                id="training",
            ),
        ],
    )
    def test_failed_and_unfinished_runs(self, review_workspace, attrs, text):
        review_workspace.catalog().create_run("r4", created="2024-05-01T00:00:00+00:00", **attrs)
        assert missing_message(review_workspace, "r4", "probs").startswith(text)


class TestBrokenImages:
    def test_missing_chunk_shows_a_placeholder_and_says_why(self, session, review_workspace):
        chunk_file(review_workspace, 1).unlink()  # rows 64 to 127
        view = GalaxyView(session=session)
        session.selected_row = 70
        assert view._thumbnail() == placeholder_png(THUMBNAIL_SIZE)
        assert view._details().endswith(
            "\n\n> The image of SDSS 1237650000000000070 (catalog row 70) could not be read:"
            " missing image chunk images/c/1/0/0/0 (rows 64 to 127). A placeholder is shown."
        )
        pn.panel(view).get_root(Document())
        session.selected_row = 3
        assert view._thumbnail() == thumbnail_png(review_workspace, 3)
        assert "could not be read" not in view._details()

    def test_garbage_chunk(self, session, review_workspace):
        chunk_file(review_workspace, 2).write_bytes(np.random.default_rng(0).bytes(3000))
        session.selected_row = 130
        view = GalaxyView(session=session)
        assert view._thumbnail() == placeholder_png(THUMBNAIL_SIZE)
        assert "(catalog row 130) could not be read: corrupt image chunk images/c/2/0/0/0" in (
            view._details()
        )

    def test_thumbnail_route(self, toy_workspace):
        chunk_file(toy_workspace, 1).write_bytes(b"not a chunk")
        with serving(toy_workspace) as port:
            status, headers, body = get(port, "/thumb/70.png")
            assert (status, headers["Content-Type"], body) == (
                200,
                "image/png",
                placeholder_png(128),
            )
            assert headers["Cache-Control"] == "no-store"
            assert headers["X-Galcore-Problem"].startswith("corrupt image chunk images/c/1/0/0/0")
            assert get(port, "/thumb/3.png")[0] == 200
            for path, text in [
                ("/thumb/999999999.png", "no galaxy at row 999999999 in the catalog\n"),
                ("/thumb/abc.png", "no thumbnail 'abc.png': ask for /thumb/<row>.png\n"),
            ]:
                status, headers, body = get(port, path)
                assert (status, body.decode()) == (404, text)
                assert headers["Cache-Control"] == "no-store"


@contextlib.contextmanager
def ledger_locked(workspace: Workspace) -> Iterator[subprocess.Popen]:
    """Have another process hold the ledger's write lock (until `release` or the end)."""
    workspace.ledger()  # the file exists, in WAL mode
    code = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
        " db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(workspace.ledger_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        release(holder)


@pytest.fixture
def locked(review_workspace: Workspace) -> Iterator[subprocess.Popen]:
    """Another process holding the ledger's write lock until the test ends."""
    with ledger_locked(review_workspace) as holder:
        yield holder


def release(holder: subprocess.Popen) -> None:
    """Let the lock holder end."""
    if holder.poll() is None:
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()


@pytest.fixture
def decided(session: ReviewSession) -> list[int]:
    """Two decisions recorded before the ledger gets locked."""
    session.selected_row = 17
    first = session.decide("approve")
    session.selected_row = 18
    return [first, session.decide("unsure")]


class TestLockedLedger:
    def test_dashboard_waits_briefly(self, session):
        assert session.ledger.timeout == LEDGER_TIMEOUT <= 5

    def test_review_says_not_recorded_and_keeps_earlier_decisions(
        self, session, review_workspace, decided, locked
    ):
        session.ledger.timeout = 0.1
        review = ReviewView(session=session)
        session.selected_row = 2
        review._decide("relabel")
        assert review._error.visible
        assert review._error.object.startswith(
            "Not recorded: the review ledger is busy (another program is writing to it), so"
            " nothing of this 'relabel' was saved; try again in a moment."
        )
        assert session.ledger_state == decided[-1]
        release(locked)
        assert [row.id for row in review_workspace.ledger().table()] == decided[::-1]
        review._decide("relabel")  # the same click again, now that the ledger is free
        assert not review._error.visible
        assert len(review_workspace.ledger().table()) == 3

    def test_grid_keeps_the_reason_and_the_undo(self, session, review_workspace):
        session.ledger.timeout = 0.1
        grid = GridView(session=session)
        ids = grid.decide("artefact", "page")
        assert ids
        session.selected_row = 3
        with ledger_locked(review_workspace):
            grid.reason = "blended with a star"
            assert grid.decide("unsure", "galaxy") == []
            assert grid._message.alert_type == "danger"
            assert "Not recorded: the review ledger is busy" in grid._message.object
            assert grid.reason == "blended with a star"  # still there, to try again
            assert grid.undo() == []
            assert "nothing of this 'undo' was saved" in grid._message.object
        assert len(review_workspace.ledger().current()) == len(ids)
        assert len(grid.undo()) == len(ids)  # the undo was kept, and works now
        assert review_workspace.ledger().current() == {}
        assert len(grid.decide("unsure", "galaxy")) == 1

    def test_polling_a_busy_ledger_keeps_the_state(self, session, decided):
        with mock.patch.object(session.ledger, "state", side_effect=LedgerLockedError("busy")):
            session.refresh_ledger()
        assert session.ledger_state == decided[-1]


class TestLinks:
    @pytest.mark.parametrize(
        ("args", "text"),
        [
            pytest.param(
                {"row": [b"999999999"]},
                "The link asks for catalog row '999999999', which is not a galaxy of this"
                " catalog (rows 0 to 199): no galaxy is opened from it.",
                id="row-out-of-range",
            ),
            pytest.param(
                {"row": [b"abc"]},
                "The link asks for catalog row 'abc', which is not a galaxy of this catalog"
                " (rows 0 to 199): no galaxy is opened from it.",
                id="row-not-a-number",
            ),
            pytest.param(
                {"run": [b"nope"]},
                "The link asks for run 'nope', which this workspace lacks (its runs: r0, r1,"
                " r2): run r1 is shown.",
                id="unknown-run",
            ),
            pytest.param(
                {"queue": [b"best"]},
                "The link's queue='best' is not valid here: it was ignored.",
                id="unknown-queue",
            ),
        ],
    )
    def test_bad_value_is_named_and_ignored(self, session, args, text):
        page = app.build_app(session, url_args=args)
        notice, _ = page.main
        assert notice.object == markdown_text(text)
        assert (session.run, session.selected_row, session.queue) == ("r1", None, "confident")
        render_every_view(session)

    def test_good_values_are_applied_around_a_bad_one(self, session):
        args = {"run": [b"nope"], "row": [b"17"], "queue": [b"uncertain"], "page": [b"2"]}
        assert len(apply_url_args(session, args, app.URL_PARAMETERS)) == 1
        assert (session.run, session.selected_row, session.queue, session.page) == (
            "r1",
            17,
            "uncertain",
            2,
        )
        assert apply_url_args(session, {"run": [b"r0"]}, app.URL_PARAMETERS) == []
        assert session.run == "r0"

    def test_panel_sync_cannot_break_the_store(self, session):
        """Panel's own URL sync sets a bad run as it comes: the session refuses it."""
        Location(search="?run=nope&row=5").sync(session, app.URL_PARAMETERS)
        assert session.run == "r1"
        assert session.count == N_CURATED

    def test_what_a_link_says_is_escaped(self, session):
        args = {"run": [b"<img src=x onerror=alert(1)>*_"]}
        (text,) = apply_url_args(session, args, app.URL_PARAMETERS)
        (notice, _) = app.build_app(session, url_args=args).main
        assert "<img" not in notice.object
        assert notice.object == markdown_text(text)
        shown = html.unescape(notice.get_root(Document()).text)  # the HTML the browser gets
        assert "&lt;img src=x onerror=alert(1)&gt;*_" in shown
        assert "<img" not in shown

    def test_error_page_escapes_file_names(self):
        (alert,) = app.build_error_page("no catalog at /data/<my>_ws").main
        assert alert.object == "no catalog at /data/&#60;my&#62;&#95;ws"


@pytest.mark.ui
@pytest.mark.timeout(480)
def test_a_bad_workspace_and_link_in_the_browser(toy_workspace, tmp_path):
    """A served workspace without runs, a bad link and an unreadable image: a working page."""
    chunk_file(toy_workspace, 1).unlink()  # rows 64 to 127
    port, errors = browser.free_port(), []
    command = browser.panel_serve(toy_workspace, port)
    with (
        sync_playwright() as playwright,
        browser.serving(command, port, tmp_path / "panel-serve.log") as url,
    ):
        with urllib.request.urlopen(url, timeout=FIRST_SESSION_S):  # noqa: S310 (http)
            pass  # the first session compiles datashader's aggregations: slow on a busy machine
        chromium = browser.launch_chromium(playwright)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(browser.TIMEOUT_MS)
            page.set_default_navigation_timeout(FIRST_SESSION_S * 1000)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{url}?run=nope&row=abc")
            page.get_by_text(f"no run in workspace {toy_workspace.root} yet").first.wait_for()
            page.get_by_text("The link asks for run 'nope', which this workspace lacks").wait_for()
            page.get_by_text("The link asks for catalog row 'abc'").wait_for()
            page.goto(f"{url}?row=70")
            page.get_by_text("(catalog row 70) could not be read: missing image chunk").wait_for()
            page.get_by_role("heading", name="SDSS 1237650000000000070").wait_for()
        finally:
            chromium.close()
    assert errors == []

"""The views and the app: set session params, assert what the views derive and draw."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from unittest import mock

import panel as pn
import param
import pytest

from dashboard import app
from dashboard.session import ReviewSession
from dashboard.views import (
    EmbeddingView,
    GalaxyView,
    ReviewView,
    View,
    make_galaxy_markdown,
    make_history_markdown,
    make_status_line,
)
from dashboard.views.galaxy import NOTHING_SELECTED
from store import LABELS, Decision, StoreNotFoundError, Workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


def _decision(decision: str = "approve", **values) -> Decision:
    row = {
        "id": 1,
        "created": "2024-05-01T10:00:00+00:00",
        "reviewer": "ana",
        "object_id": 5,
        "decision": decision,
        "label": 1,
        "run": "r1",
        "reason": "",
    }
    return Decision(**(row | values))


@pytest.mark.parametrize("cls", [ReviewSession, View, EmbeddingView, GalaxyView, ReviewView])
class TestParams:
    def test_every_public_param_has_a_doc(self, cls):
        undocumented = [
            name
            for name, parameter in cls.param.objects().items()
            if name != "name" and not name.startswith("_") and not parameter.doc
        ]
        assert undocumented == []

    def test_params_are_declared_alphabetically(self, cls):
        declared = [
            name
            for name, value in vars(cls).items()
            if isinstance(value, param.Parameter) and name != "name"
        ]
        assert declared == sorted(declared)


@pytest.mark.parametrize("cls", [EmbeddingView, GalaxyView, ReviewView])
def test_views_declare_only_the_store(cls):
    assert set(cls.param) == {"name", "session"}


class TestGalaxyView:
    def test_nothing_selected(self, session):
        view = GalaxyView(session=session)
        assert view._thumbnail() is None
        assert view._details() == NOTHING_SELECTED

    def test_selected_galaxy(self, session):
        view = GalaxyView(session=session)
        session.selected_row = 120
        assert view._thumbnail().startswith(b"\x89PNG")
        details = view._details()
        assert "### DES 500000020" in details
        assert "P_EL 0.980, P_CS 0.020, NVOTE 0, label **elliptical**" in details
        assert "| Sets | unlabelled |" in details

    def test_details_map_store_params(self, session):
        session.selected_row = 3
        with mock.patch("dashboard.views.galaxy.make_galaxy_markdown", return_value="") as make:
            GalaxyView(session=session)._details()
        make.assert_called_once_with(session.galaxy)

    def test_markdown_lists_probabilities(self, session):
        session.selected_row = 3
        text = make_galaxy_markdown(session.galaxy)
        assert "| Predicted | **spiral** (P(elliptical) 0." in text
        assert "label **elliptical**" in text

    def test_renders_thumbnail_and_details(self, session):
        layout = GalaxyView(session=session).__panel__()
        assert [type(pane) for pane in layout] == [pn.pane.PNG, pn.pane.Markdown]


class TestReviewView:
    def _buttons(self, view: ReviewView) -> dict[str, pn.widgets.Button]:
        layout = view.__panel__()
        return {button.name: button for button in layout.select(pn.widgets.Button)}

    def test_approve_button_records_and_shows(self, session, review_workspace):
        view = ReviewView(session=session)
        session.selected_row = 17
        self._buttons(view)["Approve"].clicks += 1
        (row,) = review_workspace.ledger().history(1237650000000000017)
        assert (row.decision, row.reviewer, row.run) == ("approve", "ana", "r1")
        assert view._status().startswith(f"**approved** as {session.galaxy.predicted_name} by ana")
        assert "| ana | approve |" in view._history()

    def test_relabel_button_records_the_other_class(self, session, review_workspace):
        view = ReviewView(session=session)
        session.selected_row = 2
        self._buttons(view)["Relabel"].clicks += 1
        (row,) = review_workspace.ledger().history(1237650000000000002)
        assert (row.decision, row.label) == ("relabel", 1 - session.galaxy.predicted)
        assert view._status().startswith(f"**relabelled** as {LABELS[row.label]}")

    def test_error_is_shown(self, session):
        view = ReviewView(session=session)
        self._buttons(view)["Approve"].clicks += 1
        assert view._error.visible
        assert "select a galaxy" in view._error.object
        session.selected_row = 1
        self._buttons(view)["Approve"].clicks += 1
        assert not view._error.visible

    def test_a_refused_name_is_shown_as_text(self, session):
        view = ReviewView(session=session)
        session.param.update(selected_row=1, reviewer="<img src=x onerror=alert(1)>" + "x" * 100)
        self._buttons(view)["Approve"].clicks += 1
        assert "reviewer must be at most" in view._error.object
        assert "&#60;img src=x onerror=alert(1)&#62;" in view._error.object
        assert "<img" not in view._error.object

    def test_status_without_selection(self, session):
        assert ReviewView(session=session)._status() == ""
        session.selected_row = 1
        assert ReviewView(session=session)._status() == "Not reviewed yet."


class TestReviewText:
    def test_status_line_uses_the_latest(self):
        history = [_decision("approve"), _decision("reject", id=2, reviewer="bo", label=0)]
        assert make_status_line(history) == (
            "**rejected** as elliptical by bo (2024-05-01T10:00:00+00:00, run r1)"
        )

    def test_history_table(self):
        lines = make_history_markdown([_decision(), _decision("reject", id=2)]).splitlines()
        assert lines[0] == "| When | Who | Decision | Label | Run |"
        assert lines[2:] == [
            "| 2024-05-01T10:00:00+00:00 | ana | approve | spiral | r1 |",
            "| 2024-05-01T10:00:00+00:00 | ana | reject | spiral | r1 |",
        ]

    def test_empty_history(self):
        assert make_history_markdown([]) == ""

    def test_decisions_without_a_label(self):
        history = [_decision("artefact", label=-1)]
        assert make_status_line(history).startswith("**marked an artefact** by ana")
        assert "| artefact |  |" in make_history_markdown(history)

    def test_what_people_typed_is_escaped(self):
        hostile = '<img src=x onerror="alert(1)">|**x**'
        history = [_decision(reviewer=hostile)]
        for text in (make_status_line(history), make_history_markdown(history)):
            assert "<img" not in text
            assert '&#60;img src=x onerror="alert(1)"&#62;' in text
            assert "**x**" not in text
        assert len(make_history_markdown(history).splitlines()[2].split(" | ")) == 5


class TestApp:
    @pytest.mark.parametrize(
        ("argv", "expected"),
        [
            pytest.param(["--workspace", "ws"], Path("ws"), id="given"),
            pytest.param([], None, id="missing"),
            pytest.param(["--other", "1", "--workspace=w"], Path("w"), id="unknown-ignored"),
        ],
    )
    def test_parse_workspace(self, argv, expected):
        assert app.parse_workspace(argv) == expected

    def test_open_session(self, review_workspace):
        assert app.open_session(review_workspace.root).run == "r1"

    def test_no_workspace(self):
        with pytest.raises(StoreNotFoundError, match="no workspace given: start the dashboard"):
            app.open_session(None)

    def test_no_catalog(self, tmp_path):
        with pytest.raises(StoreNotFoundError, match=f"'galcore demo --workspace {tmp_path}'"):
            app.open_session(tmp_path)

    def test_build_app(self, session):
        page = app.build_app(session)
        assert isinstance(page, pn.template.BootstrapTemplate)
        (tabs,) = page.main
        assert list(tabs._names) == ["Review", "Decisions", "Metrics", "Retrain"]
        assert len(tabs.select(pn.pane.Plotly)) == 1  # the bounded 3-D view
        assert len(tabs.select(pn.pane.HoloViews)) >= 2  # the datashaded embedding and sky
        assert len(tabs.select(pn.pane.PNG)) == 1
        names = {button.name for button in tabs.select(pn.widgets.Button)}
        assert {"Approve", "Relabel", "Unsure", "Artefact", "Undo", "Retrain"} <= names
        (sidebar,) = page.sidebar
        run_select = sidebar.select(pn.widgets.Select)[0]
        assert (run_select.name, run_select.value) == ("Run", "r1")

    def test_error_page(self):
        page = app.build_error_page("no catalog in ws")
        (alert,) = page.main
        assert alert.object == "no catalog in ws"


def test_dashboard_never_imports_tensorflow():
    code = (
        "import sys, dashboard, dashboard.app, dashboard.views, dashboard.thumbnails; "
        "print(sorted(m for m in sys.modules if m.startswith(('tensorflow', 'galcore.training'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"

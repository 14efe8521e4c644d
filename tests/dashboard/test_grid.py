"""The thumbnail grid: pages of a queue, bulk decisions in one transaction, undo, escaping."""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import panel as pn
import param
import pytest
from bokeh.document import Document

from dashboard.data import data_version
from dashboard.routes import thumbnail_url
from dashboard.session import ReviewSession
from dashboard.views import GridView, make_cell_html, make_grid_html
from dashboard.views.grid import PAGE_SIZES, SHORTCUTS, page_count
from dashboard.views.grid_cells import THUMBNAIL_SIZE
from dashboard.views.thumbnail_grid import ThumbnailGrid
from store import Decision, SchemaError, Workspace
from store import ledger as store_ledger
from tests.dashboard.reviewing import decide_rows

HOSTILE_REVIEWER = "<script>alert('who')</script>"
HOSTILE_REASON = '"><img src=x onerror=alert(1)>'


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


@pytest.fixture
def view(session: ReviewSession) -> GridView:
    session.queue = "uncertain"  # decided galaxies stay in place (the confident queue drops them)
    return GridView(session=session)


def _cells(markup: str) -> list[int]:
    return [int(row) for row in re.findall(r'data-row="(\d+)"', markup)]


@pytest.fixture
def spy():
    """Count the ledger's write transactions."""
    with mock.patch.object(store_ledger, "writing", wraps=store_ledger.writing) as writing:
        yield writing


@pytest.mark.parametrize("cls", [GridView, ThumbnailGrid])
def test_params_are_documented_and_alphabetical(cls):
    own = [
        name
        for name, value in vars(cls).items()
        if isinstance(value, param.Parameter) and name != "name"
    ]
    assert own == sorted(own)
    assert all(cls.param[name].doc for name in own)


class TestPage:
    @pytest.fixture
    def view(self, session: ReviewSession) -> GridView:
        return GridView(session=session)  # the default queue: confident

    def test_first_page_of_the_queue(self, view, session):
        frame = session.queue_frame(top=view.top, threshold=view.threshold)
        np.testing.assert_array_equal(view.page["row"], frame["row"][: PAGE_SIZES[0]])
        assert _cells(view._grid.markup) == frame["row"][: PAGE_SIZES[0]].tolist()
        assert view._page_text.object == "Page 1 of 5 · 99 galaxies"

    def test_cells_link_thumbnails_never_embed_them(self, view, session):
        row = int(view.page["row"][0])
        url = thumbnail_url(row, size=THUMBNAIL_SIZE, version=data_version(session.workspace))
        assert f'<img src="{url.replace("&", "&amp;")}"' in view._grid.markup
        assert "base64" not in view._grid.markup
        assert view._grid.markup.count("<img ") == PAGE_SIZES[0]

    def test_paging_stops_at_the_ends(self, view, session):
        view.press("ArrowLeft")
        assert session.page == 0
        for _ in range(7):
            view.press("ArrowRight")
        assert session.page == 4
        assert len(view.page["row"]) == 99 - 4 * 24
        assert view._page_text.object == "Page 5 of 5 · 99 galaxies"

    def test_page_size_keeps_the_first_galaxy_shown(self, view, session):
        session.page = 3
        first = view.page["row"][0]
        view.page_size = 48
        assert session.page == 1
        assert first in view.page["row"]
        assert len(_cells(view._grid.markup)) == 48

    def test_a_page_past_the_end_shows_the_last(self, view, session):
        session.page = 40
        assert view._page_text.object.startswith("Page 5 of 5")

    def test_queue_change_starts_at_the_first_page(self, view, session):
        session.page = 2
        session.queue = "misclassified"
        assert session.page == 0
        assert sorted(_cells(view._grid.markup)) == [3, 17, 120]

    def test_selection_is_shown(self, view, session):
        session.page = 2
        session.select_rows([120, 5])
        assert (session.queue, session.page) == ("selection", 0)
        assert _cells(view._grid.markup) == [5, 120]

    def test_empty_page(self, view, session):
        session.queue = "selection"
        assert view._grid.markup == make_grid_html(view.page, {})
        assert "No galaxies here." in view._grid.markup

    def test_page_count(self):
        assert [page_count(n, 24) for n in (0, 1, 24, 25)] == [1, 1, 1, 2]


class TestOpen:
    def test_click_opens_the_galaxy(self, view, session):
        row = int(view.page["row"][2])
        view._grid._handle_msg({"row": row})
        assert session.selected_row == row
        assert f'class="cell none opened" data-row="{row}"' in view._grid.markup


class TestDecisions:
    def test_page_approve_writes_one_row_per_galaxy_in_one_call(self, view, session, spy):
        rows = view.page["row"]
        ids = view.decide("approve", "page")
        spy.assert_called_once()
        table = session.ledger.table()
        assert [row.id for row in reversed(table)] == ids
        assert [row.object_id for row in reversed(table)] == view.page["object_id"].tolist()
        assert {(row.decision, row.reviewer, row.run) for row in table} == {
            ("approve", "ana", "r1")
        }
        assert [row.label for row in reversed(table)] == view.page["predicted"].tolist()
        assert len(table) == len(rows) == PAGE_SIZES[0]
        assert session.ledger_state == max(ids)
        assert view._grid.markup.count("approved") == PAGE_SIZES[0]

    def test_relabel_writes_the_other_class(self, view, session):
        view.press("R")
        labels = [row.label for row in reversed(session.ledger.table())]
        assert labels == (1 - view.page["predicted"]).tolist()
        assert {row.decision for row in session.ledger.table()} == {"relabel"}

    def test_page_action_leaves_decided_galaxies_as_they_are(self, view, session):
        odd = int(view.page["row"][5])
        view.open(odd)
        view.reason = "two nuclei"
        view.press("x")
        assert view.reason == ""
        view.press("A")
        current = session.ledger.current()
        assert current[int(session.galaxy.object_id)].decision == "artefact"
        assert current[int(session.galaxy.object_id)].reason == "two nuclei"
        assert sum(row.decision == "approve" for row in current.values()) == PAGE_SIZES[0] - 1
        assert "approved: 23 galaxies" in view._message.object

    def test_unsure_on_the_selection(self, view, session, spy):
        session.select_rows([3, 17, 150])
        view.decide("unsure", "selection")
        spy.assert_called_once()
        assert sorted(session.ledger.current()) == sorted(
            session.queue_frame("selection")["object_id"].tolist()
        )

    def test_selection_without_a_prediction_is_not_approved(self, view, session):
        session.select_rows([5, 199])
        view.decide("approve", "selection")
        assert [row.object_id for row in session.ledger.table()] == [1237650000000000005]
        view.decide("artefact", "selection")
        assert session.ledger.table()[0].object_id == 500000099

    def test_hidden_decided_galaxies_make_room(self, view, session):
        session.hide_decided = True
        before = view.page["row"].copy()
        view.press("A")
        assert not np.isin(view.page["row"], before).any()
        assert view._page_text.object == "Page 1 of 8 · 175 galaxies"

    @pytest.mark.parametrize(
        ("target", "match"),
        [
            pytest.param("galaxy", "open a galaxy", id="nothing-opened"),
            pytest.param("selection", "nothing to approve in the selection", id="no-selection"),
        ],
    )
    def test_nothing_to_decide(self, view, session, target, match):
        assert view.decide("approve", target) == []
        assert match in view._message.object
        assert view._message.alert_type == "danger"
        assert session.ledger.table() == []

    def test_page_already_decided(self, view):
        view.press("U")
        view.press("U")
        assert "every galaxy has a decision" in view._message.object

    def test_refused_reviewer_is_shown_escaped(self, view, session):
        session.reviewer = "bad\nname"
        view.press("A")
        assert "reviewer must be at most" in view._message.object
        assert view._message.alert_type == "danger"


class TestUndo:
    def test_undo_appends_retractions_and_restores_the_state(self, view, session, spy):
        view.open(int(view.page["row"][0]))
        view.press("u")
        before = session.ledger.current()
        view.press("A")
        view.press("r")
        view.press("z")
        view.press("z")
        assert session.ledger.current() == before
        table = session.ledger.table()
        assert [row.decision for row in table[:24]] == ["retract"] * 24
        assert len(table) == 1 + 23 + 1 + 1 + 23
        assert spy.call_count == 5
        assert "retracted 23 decisions" in view._message.object

    def test_nothing_to_undo(self, view):
        assert view.undo() == []
        assert view._message.object == "Nothing to undo."

    def test_undo_retracts_the_galaxy_panels_decision_too(self, view, session):
        session.selected_row = 5
        decided = session.decide("approve")  # the galaxy panel's Approve
        (retraction,) = view.undo()
        assert session.ledger.history(int(session.galaxy.object_id))[-1].retracts == decided
        assert retraction > decided
        assert session.ledger.current() == {}
        assert view.undo() == []

    def test_undo_of_a_decision_retracted_elsewhere(self, view, session):
        view.press("A")
        last = session.ledger.table()[0]
        session.ledger.record_decision(
            last.object_id, "retract", reviewer="bo", retracts=last.id, run="r1"
        )
        assert view.undo() == []
        assert "retracted already" in view._message.object


class TestEscaping:
    def test_hostile_reviewer_and_reason_are_escaped(self, view, session):
        session.reviewer = HOSTILE_REVIEWER
        view.reason = HOSTILE_REASON
        view.press("U")
        markup = view._grid.markup
        assert "<script>" not in markup
        assert "<img src=x" not in markup
        assert "&lt;script&gt;alert(&#x27;who&#x27;)&lt;/script&gt;" in markup
        assert 'title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in markup

    def test_cell_html(self, session):
        frame = session.queue_frame("misclassified")
        cell = {name: values[0] for name, values in frame.items()}
        decision = Decision(1, "t", HOSTILE_REVIEWER, 5, "relabel", 0, "r1", HOSTILE_REASON)
        markup = make_cell_html(cell, decision, version=7, opened=True)
        assert markup.startswith(f'<div class="cell relabel opened" data-row="{cell["row"]}"')
        assert f"relabelled elliptical · {HOSTILE_REVIEWER}" not in markup
        assert "relabelled elliptical · &lt;script&gt;" in markup
        assert f"GZ el {cell['gz_p_el']:.2f} · cs {cell['gz_p_cs']:.2f}" in markup


class TestKeyboard:
    def test_every_shortcut_is_sent_by_the_browser(self, view):
        assert view._grid.shortcut_keys == list(SHORTCUTS)
        assert {"a", "A", "r", "R", "u", "U", "x", "X", "z", "ArrowLeft", "ArrowRight"} == set(
            SHORTCUTS
        )

    def test_key_messages_are_dispatched(self, view, session):
        view._grid._handle_msg({"key": "ArrowRight"})
        assert session.page == 1
        view._grid._handle_msg({"key": "X"})
        assert {row.decision for row in session.ledger.current().values()} == {"artefact"}

    def test_other_keys_do_nothing(self, view, session):
        view.press("q")
        assert (session.page, session.ledger.table()) == (0, [])


class TestStoreAdditions:
    def test_decide_rows_needs_rows(self, session):
        with pytest.raises(ValueError, match="no galaxies to approve"):
            decide_rows(session, [], "approve")

    def test_decide_rows_needs_a_prediction(self, session):
        with pytest.raises(ValueError, match="galaxy 500000099 has no prediction in run 'r1'"):
            decide_rows(session, [3, 199], "relabel")
        assert session.ledger.table() == []

    def test_retract_refuses_a_decision_about_another_galaxy(self, session):
        (decision_id,) = decide_rows(session, [3], "unsure")
        other = int(session.show([4], session.catalog_id()).object_ids[0])
        with pytest.raises(SchemaError, match="it is about object"):
            session.retract([other], [decision_id])

    def test_refresh_ledger_sees_other_writers(self, session, review_workspace):
        review_workspace.ledger().record_decision(5, "unsure", reviewer="bo")
        session.refresh_ledger()
        assert session.ledger_state == 1

    def test_queue_frame_hides_decided(self, session):
        session.queue = "misclassified"
        decide_rows(session, [17], "approve")
        assert len(session.queue_frame()["row"]) == 3
        session.hide_decided = True
        assert sorted(session.queue_frame()["row"]) == [3, 120]


class TestComponent:
    def test_renders(self, view):
        layout = view.__panel__()
        assert view._grid in layout.select(ThumbnailGrid)
        names = [button.name for button in layout.select(pn.widgets.Button)]
        assert names[-6:] == ["Approve", "Relabel", "Unsure", "Artefact", "Undo", "Confirm"]
        layout.get_root(Document())

    def test_buttons_apply_to_the_target(self, view, session):
        buttons = {b.name: b for b in view.__panel__().select(pn.widgets.Button)}
        buttons["Approve"].clicks += 1
        assert len(session.ledger.table()) == PAGE_SIZES[0]
        buttons["Undo"].clicks += 1
        assert session.ledger.current() == {}
        buttons["Next ▶"].clicks += 1
        assert session.page == 1

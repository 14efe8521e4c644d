"""The decisions table and counts: what the ledger holds, filtered, refreshed, escaped."""

from __future__ import annotations

from unittest import mock

import panel as pn
import param
import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc

from dashboard.session import ReviewSession
from dashboard.views import DecisionsView, make_counts_html, make_decisions_frame
from dashboard.views.decisions import ALL, PAGE_SIZE, POLL_PERIOD_MS
from store import DECISIONS, Ledger, Workspace
from tests.dashboard.reviewing import decide_rows

HOSTILE = "<b onmouseover=alert(1)>eve</b>"
SDSS_ID = 1237650000000000003


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


@pytest.fixture
def decided(session: ReviewSession) -> ReviewSession:
    """Decisions by ana (r1), bo (r0, one retracted) and a hostile name."""
    decide_rows(session, [3, 4, 5], "approve")
    decide_rows(session, [17], "relabel", reason="bar | *bold*")
    ledger = session.ledger
    first = ledger.record_decision(150, "artefact", reviewer="bo", run="r0")
    ledger.record_decision(150, "retract", reviewer="bo", run="r0", retracts=first)
    ledger.record_decision(151, "unsure", reviewer=HOSTILE, run="r1", reason=HOSTILE)
    session.refresh_ledger()
    return session


def _ids(view: DecisionsView) -> list[int]:
    return view._table.value["id"].tolist()


def test_params_are_documented_and_alphabetical():
    own = [
        name
        for name, value in vars(DecisionsView).items()
        if isinstance(value, param.Parameter) and name != "name"
    ]
    assert own == sorted(own) == ["decision", "page", "reviewer", "run"]
    assert all(DecisionsView.param[name].doc for name in own)


class TestMakeDecisionsFrame:
    def test_one_row_per_decision(self, decided):
        table = decided.ledger.table()
        frame = make_decisions_frame(table)
        assert frame["id"].tolist() == [row.id for row in table]
        assert frame["reviewer"].tolist() == [row.reviewer for row in table]
        assert frame["decision"].tolist() == [row.decision for row in table]
        assert frame["reason"].tolist() == [row.reason for row in table]

    def test_object_ids_are_text_and_labels_names(self, decided):
        frame = make_decisions_frame(decided.ledger.table())
        approved = frame[frame["object_id"] == str(SDSS_ID)]
        assert approved["label"].tolist() == ["spiral"]
        retraction = frame[frame["decision"] == "retract"].iloc[0]
        assert (retraction["label"], retraction["retracts"]) == ("", "5")

    def test_empty(self):
        frame = make_decisions_frame([])
        assert frame.empty
        assert "reviewer" in frame.columns


class TestMakeCountsHtml:
    def test_matches_the_ledgers_counts(self, decided):
        counts = decided.ledger.counts()
        markup = make_counts_html(counts)
        for table in counts:
            for name, n in table.items():
                if name != HOSTILE:
                    assert f"<tr><td>{name}</td><td>{n}</td></tr>" in markup
        assert counts.reviewer == {"ana": 4, HOSTILE: 1}

    def test_reviewer_names_are_escaped(self, decided):
        markup = make_counts_html(decided.ledger.counts())
        assert HOSTILE not in markup
        assert "<td>&lt;b onmouseover=alert(1)&gt;eve&lt;/b&gt;</td><td>1</td>" in markup


class TestDecisionsView:
    def test_table_and_counts_match_the_ledger(self, decided):
        view = DecisionsView(session=decided)
        assert _ids(view) == [row.id for row in decided.ledger.table()]
        assert view._counts.object == make_counts_html(decided.ledger.counts())

    def test_filter_choices_come_from_the_ledger(self, decided):
        view = DecisionsView(session=decided)
        assert view.param.reviewer.objects == [ALL, HOSTILE, "ana", "bo"]
        assert view.param.run.objects == [ALL, "r0", "r1", "r2"]
        assert view.param.decision.objects == [ALL, *DECISIONS]

    @pytest.mark.parametrize(
        "filters",
        [
            pytest.param({"reviewer": "bo"}, id="reviewer"),
            pytest.param({"decision": "approve"}, id="decision"),
            pytest.param({"run": "r0"}, id="run"),
            pytest.param({"reviewer": "ana", "decision": "relabel"}, id="both"),
        ],
    )
    def test_filters(self, decided, filters):
        view = DecisionsView(session=decided)
        view.param.update(filters)
        assert _ids(view) == [row.id for row in decided.ledger.table(**filters)]
        assert view._counts.object == make_counts_html(decided.ledger.counts(**filters))

    def test_refreshes_when_the_ledger_state_changes(self, decided):
        view = DecisionsView(session=decided)
        (new,) = decide_rows(decided, [6], "unsure")
        assert _ids(view)[0] == new

    def test_another_reviewer_is_seen_after_a_poll(self, decided, review_workspace):
        view = DecisionsView(session=decided)
        other = ReviewSession(workspace=review_workspace, reviewer="cy")
        (new,) = decide_rows(other, [7], "artefact")
        decided.refresh_ledger()
        assert _ids(view)[0] == new
        assert "<tr><td>cy</td><td>1</td></tr>" in view._counts.object

    def test_typed_text_is_shown_as_plain_text(self, decided):
        view = DecisionsView(session=decided)
        assert view._table.disabled
        for column in ("reviewer", "run", "reason"):
            assert view._table.formatters[column] == "plaintext"
        assert HOSTILE in view._table.value["reviewer"].tolist()

    def test_polls_the_ledger_in_a_server_session(self, decided):
        view = DecisionsView(session=decided)
        context = mock.Mock(**{"request.arguments": {}})
        session = mock.Mock(spec=Document, session_context=context)
        with (
            set_curdoc(session),
            mock.patch.object(pn.state, "add_periodic_callback") as add,
        ):
            view.__panel__()
            view.__panel__()
        add.assert_called_once_with(decided.refresh_ledger, period=POLL_PERIOD_MS)
        assert POLL_PERIOD_MS <= 5000

    def test_no_polling_outside_a_server(self, decided):
        with mock.patch.object(pn.state, "add_periodic_callback") as add:
            layout = DecisionsView(session=decided).__panel__()
        add.assert_not_called()
        assert len(layout.select(pn.widgets.Tabulator)) == 1
        layout.get_root(Document())


class TestPages:
    @pytest.fixture
    def many(self, decided):
        decided.ledger.record_decisions(
            range(1000, 1000 + 2 * PAGE_SIZE + 7), "unsure", reviewer="bo"
        )
        decided.refresh_ledger()
        return decided

    def test_one_page_is_read_from_the_ledger(self, many):
        with mock.patch.object(Ledger, "table", autospec=True, side_effect=Ledger.table) as table:
            view = DecisionsView(session=many)
        assert all(call.kwargs.get("limit") == PAGE_SIZE for call in table.call_args_list)
        total = many.ledger.size()
        assert _ids(view) == [row.id for row in many.ledger.table(limit=PAGE_SIZE)]
        assert view._page_text.object == f"Decisions 1 to {PAGE_SIZE} of {total} · page 1 of 3"

    def test_paging_stops_at_the_ends_and_filters_start_again(self, many):
        view = DecisionsView(session=many)
        view.turn(-1)
        assert view.page == 0
        for _ in range(5):
            view.turn(1)
        assert view.page == 2
        total = many.ledger.size()
        assert len(_ids(view)) == total - 2 * PAGE_SIZE
        assert _ids(view)[-1] == 1
        view.reviewer = "ana"
        assert view.page == 0
        assert view._page_text.object == "Decisions 1 to 4 of 4 · page 1 of 1"

    def test_buttons_turn_the_pages(self, many):
        view = DecisionsView(session=many)
        buttons = {b.name: b for b in view.__panel__().select(pn.widgets.Button)}
        buttons["Older ▶"].clicks += 1
        assert view.page == 1
        assert "page 2 of 3" in view._page_text.object
        buttons["◀ Newer"].clicks += 1
        assert view.page == 0

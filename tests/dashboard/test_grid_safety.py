"""Decisions a team can trust: shown ids, conflicts left out, unsaved ones said, big ones capped."""

from __future__ import annotations

import contextlib
from unittest import mock

import pytest
import zarr

from dashboard.session import ReviewSession
from dashboard.views import DecisionsView, GridView
from dashboard.views import grid as grid_module
from store import Ledger, Workspace


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana", queue="uncertain")


@pytest.fixture
def view(session: ReviewSession) -> GridView:
    return GridView(session=session)


def _set_catalog_attrs(workspace: Workspace, **attrs: str) -> None:
    zarr.open_group(workspace.catalog_path, mode="r+").attrs.update(attrs)


class TestShownIds:
    def test_a_replaced_catalog_is_refused_until_reloaded(self, view, session, review_workspace):
        _set_catalog_attrs(review_workspace, catalog_id="another-curation")  # curate --replace
        assert view.decide("unsure", "page") == []
        assert view._message.alert_type == "danger"
        assert "the catalog was replaced" in view._message.object
        assert "reload the page" in view._message.object
        session.selected_row = int(view.page["row"][0])  # opened after the replacement: valid
        assert view.decide("artefact", "galaxy")
        reloaded = GridView(session=ReviewSession(workspace=review_workspace, reviewer="ana"))
        assert len(reloaded.decide("unsure", "page")) == len(reloaded.page["row"])

    def test_a_galaxy_opened_before_a_replacement_is_refused(self, session, review_workspace):
        session.selected_row = 5
        _set_catalog_attrs(review_workspace, catalog_id="another-curation")
        with pytest.raises(Exception, match="the catalog was replaced"):
            session.decide("unsure")
        assert session.ledger.table() == []

    def test_an_addition_keeps_the_page_valid(self, view, session, review_workspace):
        shown = view.page["object_id"].tolist()
        _set_catalog_attrs(review_workspace, note="rows added")  # curate --add: same catalog_id
        ids = view.decide("unsure", "page")
        assert [row.object_id for row in reversed(session.ledger.table())] == shown
        assert len(ids) == len(shown)


class TestConflicts:
    def test_a_galaxy_decided_by_another_reviewer_meanwhile_is_left_out(
        self, view, session, review_workspace
    ):
        other = int(view.page["object_id"][3])
        theirs = Ledger(review_workspace.ledger_path).record_decision(
            other, "artefact", reviewer="bo"
        )  # not polled yet: the page still shows it undecided
        ids = view.decide("approve", "page")
        assert len(ids) == len(view.page["row"]) - 1
        assert session.ledger.current()[other].id == theirs
        assert view._message.alert_type == "warning"
        assert "1 galaxy left out: decided by someone else" in view._message.object
        assert "artefact" in view._grid.markup  # shown now


class TestUnsaved:
    def test_a_full_disk_is_said_and_nothing_earlier_is_lost(self, view, session, small_disk):
        session._ledger = Ledger(small_disk / "reviews.sqlite", timeout=0.5)
        session.undoable.clear()
        saved = view.decide("artefact", "page")
        assert saved
        filler = small_disk / "filler"
        with filler.open("wb") as out, contextlib.suppress(OSError):  # until the disk is full
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        session.page = 1
        view.reason = "two nuclei"
        assert view.decide("unsure", "page") == []
        assert view._message.alert_type == "danger"
        assert "is full" in view._message.object
        assert "nothing of this action was saved" in view._message.object
        assert view.reason == "two nuclei"  # kept, to try again
        assert view.undo() == []
        assert view._message.alert_type == "danger"
        filler.unlink()
        assert [row.id for row in reversed(session.ledger.table())] == saved
        assert len(view.undo()) == len(saved)  # the undo was kept, and works now


class TestBigActions:
    @pytest.fixture(autouse=True)
    def small_limits(self, monkeypatch):
        monkeypatch.setattr(grid_module, "CONFIRM_ABOVE", 30)
        monkeypatch.setattr(grid_module, "MAX_PER_ACTION", 60)

    def test_a_big_action_waits_for_confirmation(self, view, session):
        session.select_rows(range(40))
        assert view.decide("unsure", "selection") == []
        assert view._message.alert_type == "warning"
        assert "press Confirm" in view._message.object
        assert view._confirm.visible
        assert session.ledger.table() == []
        ids = view.confirm()
        assert len(ids) == len(session.queue_frame("selection")["row"])
        assert not view._confirm.visible
        assert view.confirm() == []

    def test_another_action_cancels_the_confirmation(self, view, session):
        session.select_rows(range(40))
        view.decide("unsure", "selection")
        view.decide("artefact", "page")
        assert not view._confirm.visible
        assert view.confirm() == []
        assert {row.decision for row in session.ledger.table()} == {"artefact"}

    def test_a_too_big_action_is_refused(self, view, session):
        session.select_rows(range(150))
        assert view.decide("unsure", "selection") == []
        assert "narrow the selection" in view._message.object
        assert not view._confirm.visible
        assert session.ledger.table() == []


class TestReads:
    def test_one_decision_reads_the_state_once(self, view, session):
        DecisionsView(session=session)
        with mock.patch.object(
            Ledger, "current", autospec=True, side_effect=Ledger.current
        ) as current:
            view.decide("unsure", "page")
            session.refresh_ledger()  # a poll that finds nothing new
            session.page = 1
        assert current.call_count == 1

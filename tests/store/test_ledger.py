import sqlite3

import pytest

from store import Ledger, SchemaError


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "reviews.sqlite")


class TestLedger:
    def test_records_and_reads_back_decisions(self, ledger):
        first = ledger.record_decision(7, "approve", label=1, reviewer="ana", run="r1")
        second = ledger.record_decision(7, "reject", label=1, reviewer="ben", reason="merger")
        history = ledger.history(7)
        assert [d.id for d in history] == [first, second]
        assert history[0].decision == "approve"
        assert history[0].run == "r1"
        assert history[1].reason == "merger"
        assert ledger.history(8) == []

    def test_latest_decision_wins_and_can_be_replayed(self, ledger):
        ledger.record_decision(7, "approve", label=1, reviewer="ana")
        mark = ledger.state()
        ledger.record_decision(7, "reject", label=1, reviewer="ben")
        ledger.record_decision(9, "approve", label=0, reviewer="ben")
        assert ledger.latest()[7].decision == "reject"
        assert set(ledger.latest()) == {7, 9}
        replay = ledger.latest(upto=mark)
        assert set(replay) == {7}
        assert replay[7].decision == "approve"

    def test_decisions_survive_reopening(self, ledger, tmp_path):
        ledger.record_decision(7, "approve", label=0, reviewer="ana")
        assert Ledger(tmp_path / "reviews.sqlite").history(7)[0].reviewer == "ana"

    def test_empty_ledger_state_is_zero(self, ledger):
        assert ledger.state() == 0
        assert ledger.latest() == {}

    def test_ledger_is_append_only(self, ledger):
        ledger.record_decision(7, "approve", label=0, reviewer="ana")
        with (
            sqlite3.connect(ledger.path) as db,
            pytest.raises(sqlite3.IntegrityError, match="append-only"),
        ):
            db.execute("UPDATE decisions SET decision = 'reject'")
        with (
            sqlite3.connect(ledger.path) as db,
            pytest.raises(sqlite3.IntegrityError, match="append-only"),
        ):
            db.execute("DELETE FROM decisions")
        assert ledger.history(7)[0].decision == "approve"

    @pytest.mark.parametrize(
        ("decision", "label", "reviewer", "match"),
        [
            pytest.param(
                "maybe", 0, "ana", "decision must be one of approve, reject", id="decision"
            ),
            pytest.param(
                "approve", 2, "ana", r"label must be 0..1 \(elliptical, spiral\)", id="label"
            ),
            pytest.param("approve", 0, " ", "reviewer must name who decided", id="reviewer"),
        ],
    )
    def test_bad_decisions_are_refused(self, ledger, decision, label, reviewer, match):
        with pytest.raises(SchemaError, match=match):
            ledger.record_decision(7, decision, label=label, reviewer=reviewer)
        assert ledger.state() == 0

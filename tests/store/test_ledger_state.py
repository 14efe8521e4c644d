"""The ledger's state in SQL, bulk decisions that skip what changed, paging and its errors."""

import contextlib
import random
import sqlite3
import threading
import time

import pytest

import store
from store import (
    LABELLED,
    PAST_TENSE,
    STATE_NAMES,
    STATES,
    Ledger,
    LedgerCorruptError,
    LedgerError,
    LedgerFullError,
    StoreError,
)
from store import _ledger_db as ledger_db
from store._ledger_decisions import current_state


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "reviews.sqlite")


def _all_rows(ledger):
    return list(reversed(ledger.table()))


def _random_ledger(ledger, seed, n=120):
    """Decide, retract and retract retractions at random, through the public API."""
    rng = random.Random(seed)
    for _ in range(n):
        object_id = rng.randrange(12)
        history = ledger.history(object_id)
        retracted = {row.retracts for row in history if row.decision == "retract"}
        targets = [row.id for row in history if row.id not in retracted]
        if targets and rng.random() < 0.35:
            target = rng.choice(targets)
            with contextlib.suppress(store.SchemaError):  # a target no longer in effect
                ledger.record_decision(object_id, "retract", reviewer="ana", retracts=target)
        else:
            decision = rng.choice(STATES)
            label = rng.randrange(2) if decision in LABELLED else None
            ledger.record_decision(object_id, decision, label=label, reviewer=rng.choice("ab"))


class TestVocabulary:
    def test_one_vocabulary_is_exported_and_used(self):
        from dashboard import data, queues
        from dashboard.views import grid_cells, review

        assert set(PAST_TENSE) >= {*STATES, "retract", "reject"}
        assert set(STATE_NAMES) >= set(STATES)
        assert set(LABELLED) < set(STATES) < set(store.DECISIONS)
        assert queues.LABELLED is LABELLED
        assert tuple(STATE_NAMES[state] for state in STATES) == data.REVIEW_STATES
        assert not hasattr(grid_cells, "PAST_TENSE")
        assert not hasattr(review, "_PAST_TENSE")


class TestStateInSql:
    @pytest.mark.parametrize("seed", [0, 1])
    def test_current_matches_the_replay_of_every_decision(self, ledger, seed):
        _random_ledger(ledger, seed)
        rows = _all_rows(ledger)
        assert any(row.decision == "retract" for row in rows)
        for upto in (None, len(rows) // 3, len(rows) // 2):
            kept = rows if upto is None else [row for row in rows if row.id <= upto]
            assert ledger.current(upto=upto) == current_state(kept)
            counts = ledger.counts(upto=upto)
            assert sum(counts.decision.values()) == len(current_state(kept))

    def test_current_reads_the_state_not_every_decision(self, ledger, monkeypatch):
        for k in range(50):
            decision = STATES[k % 4]
            labels = [k % 2] * 10 if decision in LABELLED else None
            ledger.record_decisions(range(10), decision, reviewer="ana", labels=labels)
        ledger.record_decision(9, "retract", reviewer="ana", retracts=ledger.state())
        read = []
        select = ledger_db.select

        def counting(*args):
            rows = select(*args)
            read.extend(rows)
            return rows

        monkeypatch.setattr(ledger_db, "select", counting)
        import store.ledger

        monkeypatch.setattr(store.ledger, "select", counting)
        state = ledger.current()
        assert len(state) == 10
        assert len(read) <= 10 + 1  # the decisions in effect and the one retraction

    def test_a_version_1_ledger_gets_the_index(self, ledger):
        ledger.record_decision(7, "approve", label=1, reviewer="ana")
        with sqlite3.connect(ledger.path) as db:
            db.execute("DROP INDEX decisions_retractions")
            db.execute("PRAGMA user_version = 1")
        db.close()
        reopened = Ledger(ledger.path)
        with sqlite3.connect(ledger.path) as db:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            plan = db.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM decisions WHERE retracts IS NOT NULL"
            ).fetchall()
        db.close()
        assert version == ledger_db.LEDGER_VERSION == 2
        assert "decisions_retractions" in str(plan)
        assert reopened.current()[7].decision == "approve"


class TestBulk:
    def test_decisions_made_after_the_shown_state_are_skipped(self, tmp_path):
        page = Ledger(tmp_path / "reviews.sqlite")  # one reviewer's page
        other = Ledger(tmp_path / "reviews.sqlite")  # another reviewer, another connection
        page.record_decision(1, "unsure", reviewer="ana")
        seen = page.state()  # the page is shown
        mine = other.record_decision(2, "artefact", reviewer="bo")  # committed in between
        outcome = page.record_bulk(
            [1, 2, 3, 4], "approve", labels=[0, 1, 1, 0], reviewer="ana", seen=seen
        )
        assert outcome.recorded == [1, 3, 4]
        assert outcome.changed == [2]
        assert outcome.decided == []
        assert page.current()[2].id == mine  # not overwritten
        assert [page.current()[k].label for k in (1, 3, 4)] == [0, 1, 0]

    def test_undecided_are_read_inside_the_write_transaction(self, tmp_path):
        path = tmp_path / "reviews.sqlite"
        page = Ledger(path)
        page.record_decision(1, "unsure", reviewer="ana")
        seen = page.state()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another reviewer is writing now
        holder.execute(
            "INSERT INTO decisions (created, reviewer, object_id, decision, label)"
            " VALUES ('t', 'bo', 2, 'artefact', -1)"
        )
        outcomes = []
        worker = threading.Thread(
            target=lambda: outcomes.append(
                page.record_bulk(
                    [1, 2, 3], "unsure", reviewer="ana", seen=seen, undecided_only=True
                )
            )
        )
        worker.start()
        time.sleep(0.3)  # the bulk decision waits for the write lock
        assert worker.is_alive()
        holder.execute("COMMIT")
        holder.close()
        worker.join(timeout=10)
        (outcome,) = outcomes
        assert outcome.recorded == [3]
        assert outcome.changed == [2]
        assert outcome.decided == [1]
        assert page.current()[2].reviewer == "bo"

    def test_a_retraction_is_not_a_bulk_decision(self, ledger):
        with pytest.raises(store.SchemaError, match="use record_decisions"):
            ledger.record_bulk([1], "retract", reviewer="ana", seen=0)


class TestPaging:
    def test_pages_sizes_and_names(self, ledger):
        ledger.record_decisions(range(30), "unsure", reviewer="ana", run="r1")
        ledger.record_decisions(range(5), "artefact", reviewer="bo")
        page = ledger.table(limit=10, offset=10)
        assert [row.id for row in page] == list(range(25, 15, -1))
        assert ledger.table(reviewer="bo", limit=3, offset=3)[-1].id == 31
        assert (ledger.size(), ledger.size(reviewer="bo"), ledger.size(run="r9")) == (35, 5, 0)
        assert ledger.names("reviewer") == ["ana", "bo"]
        assert ledger.names("run") == ["r1"]
        with pytest.raises(ValueError, match="'reviewer' or 'run'"):
            ledger.names("reason")


class TestErrors:
    def test_a_full_disk_is_one_clear_error_and_keeps_what_was_saved(self, small_disk):
        ledger = Ledger(small_disk / "reviews.sqlite")
        before = ledger.record_decisions([1, 2, 3], "unsure", reviewer="ana")
        filler = small_disk / "filler"
        with filler.open("wb") as out, contextlib.suppress(OSError):  # until the disk is full
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        with pytest.raises(LedgerFullError, match="review ledger .* is full") as error:
            ledger.record_bulk(range(10, 3010), "unsure", reviewer="ana", reason="x" * 500, seen=3)
        assert isinstance(error.value, StoreError)
        assert "nothing of this action was saved; free space" in str(error.value)
        filler.unlink()
        assert [row.id for row in _all_rows(ledger)] == before
        assert ledger.record_decision(4, "unsure", reviewer="ana") == 4

    def test_a_damaged_ledger_is_one_clear_error(self, ledger):
        ledger.record_decisions(range(2000), "unsure", reviewer="ana", reason="x" * 100)
        with ledger.path.open("r+b") as damaged:
            damaged.seek(4096 * 3)
            damaged.write(b"\xff" * 4096 * 5)
        with pytest.raises(LedgerCorruptError, match="is damaged .*restore it from a backup"):
            ledger.current()

    def test_any_other_sqlite_error_is_a_store_error(self, ledger, monkeypatch):
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE

        def failing(*args, **kwargs):
            raise error

        monkeypatch.setattr(ledger_db.sqlite3, "connect", failing)
        with pytest.raises(LedgerError, match="could not be read or written .*disk I/O error"):
            ledger.state()

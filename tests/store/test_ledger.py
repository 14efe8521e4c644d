import multiprocessing
import sqlite3

import pytest

from store import Ledger, LedgerError, LedgerLockedError, SchemaError, StoreError
from store import _ledger_db as ledger_db

# The first ledger schema (user_version 0), as galcore wrote it before retractions existed.
OLD_CREATE = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    label INTEGER NOT NULL,
    run TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS decisions_object ON decisions (object_id);
CREATE TRIGGER IF NOT EXISTS decisions_append_only_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END;
"""
OLD_ROWS = [
    (1, "2024-05-01T10:00:00+00:00", "ana", 7, "approve", 1, "r1", ""),
    (2, "2024-05-01T10:01:00+00:00", "ben", 8, "reject", 0, None, "merger, <b>not</b> a spiral"),
    (3, "2024-05-01T10:02:00+00:00", "ana", 7, "reject", 1, "r1", "second look"),
]
OLD_COLUMNS = "id, created, reviewer, object_id, decision, label, run, reason"


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "reviews.sqlite")


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(OLD_CREATE)
        db.executemany(
            f"INSERT INTO decisions ({OLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", OLD_ROWS
        )
    db.close()
    return path


def _schema(path):
    with sqlite3.connect(path) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        sql = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        rows = db.execute(f"SELECT {OLD_COLUMNS} FROM decisions ORDER BY id").fetchall()
    db.close()
    return version, sql, rows


def _append(path, reviewer, start, n):
    ledger = Ledger(path)
    start.wait()
    for k in range(n):
        ledger.record_decision(k, "approve", label=k % 2, reviewer=reviewer)


class TestRecording:
    def test_records_and_reads_back_every_decision(self, ledger):
        first = ledger.record_decision(7, "approve", label=1, reviewer="ana", run="r1")
        second = ledger.record_decision(7, "relabel", label=0, reviewer="ben", reason="merger")
        third = ledger.record_decision(8, "artefact", reviewer="ana", run="r1", reason="satellite")
        fourth = ledger.record_decision(9, "unsure", label=-1, reviewer="ana")
        assert [first, second, third, fourth] == [1, 2, 3, 4]
        history = ledger.history(7)
        assert [(d.id, d.decision, d.label, d.run) for d in history] == [
            (1, "approve", 1, "r1"),
            (2, "relabel", 0, None),
        ]
        assert history[1].reason == "merger"
        assert [
            (d.decision, d.label, d.retracts) for d in ledger.history(8) + ledger.history(9)
        ] == [
            ("artefact", -1, None),
            ("unsure", -1, None),
        ]
        assert ledger.history(10) == []

    def test_names_and_reasons_are_stored_as_given(self, ledger):
        reviewer, reason = "Zoë <b>O'Brien</b> & 李", "line one\nline two | <script>"
        ledger.record_decision(7, "approve", label=0, reviewer=reviewer, reason=reason)
        (row,) = ledger.history(7)
        assert (row.reviewer, row.reason) == (reviewer, reason)

    def test_decisions_survive_reopening(self, ledger, tmp_path):
        ledger.record_decision(7, "approve", label=0, reviewer="ana")
        assert Ledger(tmp_path / "reviews.sqlite").history(7)[0].reviewer == "ana"

    def test_ledger_is_append_only(self, ledger):
        ledger.record_decision(7, "approve", label=0, reviewer="ana")
        for sql in ("UPDATE decisions SET decision = 'relabel'", "DELETE FROM decisions"):
            with (
                sqlite3.connect(ledger.path) as db,
                pytest.raises(sqlite3.IntegrityError, match="append-only"),
            ):
                db.execute(sql)
            db.close()
        assert ledger.history(7)[0].decision == "approve"

    @pytest.mark.parametrize(
        ("decision", "label", "reviewer", "reason", "match"),
        [
            pytest.param(
                "maybe",
                0,
                "ana",
                "",
                "decision must be one of approve, relabel, unsure",
                id="decision",
            ),
            pytest.param("reject", 0, "ana", "", "say 'relabel' with the right label", id="reject"),
            pytest.param(
                "approve", 2, "ana", "", r"label must be 0..1 \(elliptical, spiral\)", id="label"
            ),
            pytest.param("relabel", None, "ana", "", "label must be 0..1", id="no-label"),
            pytest.param(
                "unsure", 1, "ana", "", "'unsure' decision takes no label", id="unsure-label"
            ),
            pytest.param("approve", 0, " ", "", "reviewer must name who decided", id="empty"),
            pytest.param("approve", 0, "ana\nben", "", "no control characters", id="newline"),
            pytest.param("approve", 0, "ana\x1b[31m", "", "no control characters", id="escape"),
            pytest.param("approve", 0, "\u202eana", "", "no control characters", id="bidi"),
            pytest.param("approve", 0, "a" * 101, "", "at most 100 printable", id="long-name"),
            pytest.param("approve", 0, "ana", "x" * 2001, "at most 2000 characters", id="reason"),
            pytest.param(
                "retract", None, "ana", "", "names the decision it retracts", id="retract"
            ),
        ],
    )
    def test_bad_decisions_are_refused(self, ledger, decision, label, reviewer, reason, match):
        with pytest.raises(SchemaError, match=match):
            ledger.record_decision(7, decision, label=label, reviewer=reviewer, reason=reason)
        assert ledger.state() == 0

    def test_many_decisions_are_one_transaction(self, ledger):
        ids = ledger.record_decisions(
            range(100, 150), "approve", labels=[k % 2 for k in range(50)], reviewer="ana", run="r1"
        )
        assert ids == list(range(1, 51))
        assert [ledger.current()[100 + k].label for k in (0, 1)] == [0, 1]
        with pytest.raises(SchemaError, match="cannot retract decision 99"):
            ledger.record_decisions([100, 101, 102], "retract", reviewer="ana", retracts=[1, 2, 99])
        assert ledger.state() == 50  # the first two retractions were rolled back
        with pytest.raises(SchemaError, match="got 2 labels for 3 objects"):
            ledger.record_decisions([1, 2, 3], "relabel", labels=[0, 1], reviewer="ana")
        assert ledger.record_decisions([], "approve", labels=[], reviewer="ana") == []
        assert ledger.state() == 50


class TestCurrentState:
    def test_latest_decision_in_effect_wins_and_can_be_replayed(self, ledger):
        ledger.record_decision(7, "approve", label=1, reviewer="ana")
        mark = ledger.state()
        ledger.record_decision(7, "relabel", label=0, reviewer="ben")
        ledger.record_decision(9, "approve", label=0, reviewer="ben")
        assert ledger.current()[7].decision == "relabel"
        assert set(ledger.current()) == {7, 9}
        replay = ledger.current(upto=mark)
        assert set(replay) == {7}
        assert replay[7].decision == "approve"
        assert ledger.latest() == ledger.current()

    def test_empty_ledger(self, ledger):
        assert ledger.state() == 0
        assert ledger.current() == {}

    def test_a_retraction_restores_the_state_before_it(self, ledger):
        approve = ledger.record_decision(7, "approve", label=1, reviewer="ana")
        artefact = ledger.record_decision(7, "artefact", reviewer="ben")
        only = ledger.record_decision(8, "unsure", reviewer="ben")
        mark = ledger.state()
        undo = ledger.record_decision(7, "retract", reviewer="ben", retracts=artefact)
        ledger.record_decision(8, "retract", reviewer="ben", retracts=only, reason="oops")
        state = ledger.current()
        assert state[7].id == approve
        assert 8 not in state  # its only decision was retracted
        assert ledger.current(upto=mark)[7].id == artefact
        assert ledger.history(7)[-1].retracts == artefact
        redo = ledger.record_decision(7, "retract", reviewer="ana", retracts=undo)
        assert ledger.current()[7].id == artefact  # retracting the retraction re-applies it
        ledger.record_decision(7, "retract", reviewer="ana", retracts=redo)
        assert ledger.current()[7].id == approve

    def test_retracting_a_superseded_decision_keeps_the_state(self, ledger):
        old = ledger.record_decision(7, "approve", label=1, reviewer="ana")
        new = ledger.record_decision(7, "relabel", label=0, reviewer="ben")
        ledger.record_decision(7, "retract", reviewer="ana", retracts=old)
        assert ledger.current()[7].id == new

    @pytest.mark.parametrize(
        ("object_id", "target", "match"),
        [
            pytest.param(7, 99, "the ledger has no such decision", id="missing"),
            pytest.param(8, 1, "it is about object 7", id="other-object"),
            pytest.param(7, 1, "it is retracted already", id="twice"),
        ],
    )
    def test_bad_retractions_are_refused(self, ledger, object_id, target, match):
        ledger.record_decision(7, "approve", label=1, reviewer="ana")
        ledger.record_decision(7, "retract", reviewer="ana", retracts=1)
        with pytest.raises(SchemaError, match=f"cannot retract decision {target}: {match}"):
            ledger.record_decision(object_id, "retract", reviewer="ana", retracts=target)
        with pytest.raises(SchemaError, match="only a retraction names a decision"):
            ledger.record_decision(7, "unsure", reviewer="ana", retracts=1)
        with pytest.raises(SchemaError, match="each decision can be retracted once"):
            ledger.record_decisions([7, 7], "retract", reviewer="ana", retracts=[2, 2])
        assert ledger.state() == 2


class TestTableAndCounts:
    @pytest.fixture
    def reviewed(self, ledger):
        ledger.record_decisions([1, 2, 3], "approve", labels=[0, 1, 1], reviewer="ana", run="r1")
        ledger.record_decision(4, "relabel", label=0, reviewer="ben", run="r2")
        ledger.record_decision(5, "artefact", reviewer="ben", run="r2")
        ledger.record_decision(3, "unsure", reviewer="ben", run="r2")
        ledger.record_decision(1, "retract", reviewer="ana", retracts=1)
        return ledger

    def test_table_filters_newest_first(self, reviewed):
        assert [d.id for d in reviewed.table()] == [7, 6, 5, 4, 3, 2, 1]
        assert [d.id for d in reviewed.table(reviewer="ana")] == [7, 3, 2, 1]
        assert [d.id for d in reviewed.table(reviewer="ben", decision="relabel")] == [4]
        assert [d.id for d in reviewed.table(run="r1", limit=2)] == [3, 2]
        assert reviewed.table(run="r9") == []

    def test_counts_the_current_state(self, reviewed):
        counts = reviewed.counts()
        assert counts.decision == {"approve": 1, "relabel": 1, "unsure": 1, "artefact": 1}
        assert counts.label == {"elliptical": 1, "spiral": 1}
        assert counts.reviewer == {"ana": 1, "ben": 3}
        assert reviewed.counts(reviewer="ben", run="r2").decision["artefact"] == 1
        assert reviewed.counts(decision="approve").reviewer == {"ana": 1}
        assert reviewed.counts(upto=3).label == {"elliptical": 1, "spiral": 2}


class TestMigration:
    def test_an_old_ledger_is_migrated_without_changing_a_row(self, old_file):
        version, _, rows = _schema(old_file)
        assert (version, rows) == (0, OLD_ROWS)
        ledger = Ledger(old_file)
        version, sql, migrated = _schema(old_file)
        assert version == ledger_db.LEDGER_VERSION
        assert migrated == OLD_ROWS
        assert [name for _, name, _ in sql] == [
            "decisions",
            "decisions_append_only_delete",
            "decisions_append_only_update",
            "decisions_object",
            "decisions_retractions",
            "sqlite_sequence",
        ]
        assert "retracts" in {name: text for _, name, text in sql}["decisions"]
        assert [d.retracts for d in ledger.history(7)] == [None, None]
        assert ledger.current()[8].training_label == 1  # an old reject of elliptical
        assert ledger.record_decision(7, "retract", reviewer="cy", retracts=3) == 4
        assert ledger.current()[7].decision == "approve"
        after = _schema(old_file)
        Ledger(old_file)  # opening it again changes nothing
        assert _schema(old_file) == after
        with (
            sqlite3.connect(old_file) as db,
            pytest.raises(sqlite3.IntegrityError, match="append-only"),
        ):
            db.execute("DELETE FROM decisions")
        db.close()

    def test_a_failed_migration_leaves_the_old_ledger(self, old_file, monkeypatch):
        before = _schema(old_file)
        failing = "INSERT INTO decisions (created, reviewer, object_id, decision, label)"
        failing += " VALUES ('', '', 0, 'maybe', 0)"
        monkeypatch.setitem(ledger_db._MIGRATIONS, 0, (*ledger_db._MIGRATIONS[0], failing))
        with pytest.raises(LedgerError, match="CHECK constraint failed"):
            Ledger(old_file)
        assert _schema(old_file) == before

    def test_a_newer_ledger_is_refused(self, tmp_path):
        path = tmp_path / "new.sqlite"
        with sqlite3.connect(path) as db:
            db.execute(f"PRAGMA user_version = {ledger_db.LEDGER_VERSION + 1}")
        db.close()
        newer = ledger_db.LEDGER_VERSION + 1
        with pytest.raises(SchemaError, match=f"{path} has schema version {newer}, newer than"):
            Ledger(path)

    def test_a_file_that_is_not_a_ledger_is_refused(self, tmp_path):
        path = tmp_path / "reviews.sqlite"
        path.write_text("not a database, just some text that is long enough " * 40)
        with pytest.raises(SchemaError, match=f"{path} is not a review ledger"):
            Ledger(path)


class TestConcurrency:
    def test_two_processes_append_without_losing_a_decision(self, ledger):
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(2)
        workers = [
            context.Process(target=_append, args=(ledger.path, name, start, 200))
            for name in ("ana", "ben")
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0, 0]
        rows = ledger.table()
        assert len(rows) == 400
        assert sorted(d.id for d in rows) == list(range(1, 401))
        assert [len(ledger.table(reviewer=name)) for name in ("ana", "ben")] == [200, 200]

    def test_a_ledger_locked_too_long_is_one_clear_error(self, ledger):
        ledger.record_decision(7, "approve", label=1, reviewer="ana")
        quick = Ledger(ledger.path, timeout=0.1)
        holder = sqlite3.connect(ledger.path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            with pytest.raises(LedgerLockedError, match="locked by another program") as error:
                quick.record_decision(8, "approve", label=0, reviewer="ben")
            assert str(ledger.path) in str(error.value)
            assert isinstance(error.value, StoreError)
            assert set(quick.current()) == {7}  # readers are not blocked
        finally:
            holder.close()
        assert quick.record_decision(8, "approve", label=0, reviewer="ben") == 2

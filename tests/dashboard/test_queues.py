"""Review queues: order and contents checked against numpy on the toy catalog's run r1."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.data import data_version, load_objects, load_predictions
from dashboard.queues import (
    QUEUES,
    confident,
    decided_rows,
    make_queue,
    misclassified,
    queue_frame,
    selection,
    surveys_disagree,
    uncertain,
    undecided_rows,
)
from dashboard.session import ReviewSession
from galcore.recursion import next_training_set
from store import NO_LABEL, SURVEYS, Decision, Workspace, set_mask
from store.selection import top_confident
from tests.dashboard.conftest import MISCLASSIFIED_ROWS

DES = SURVEYS.index("des")


@pytest.fixture
def objects(review_workspace: Workspace) -> dict[str, np.ndarray]:
    return load_objects(str(review_workspace.root), data_version(review_workspace))


@pytest.fixture
def predictions(review_workspace: Workspace) -> dict[str, np.ndarray]:
    root, version = str(review_workspace.root), data_version(review_workspace, "r1")
    return load_predictions(root, "r1", version)


def _ok(objects, predictions) -> np.ndarray:
    return objects["usable"] & predictions["valid"]


def _confidence(predictions, rows) -> np.ndarray:
    return predictions["probs"][rows].max(axis=1)


class TestQueueFrame:
    def test_columns_follow_the_rows(self, objects, predictions):
        rows = np.array([120, 3, 7])
        frame = queue_frame(objects, predictions, rows)
        np.testing.assert_array_equal(frame["row"], rows)
        for name in ("object_id", "survey", "label", "gz_p_el", "gz_p_cs"):
            np.testing.assert_array_equal(frame[name], objects[name][rows])
        np.testing.assert_array_equal(frame["predicted"], predictions["predicted"][rows])
        np.testing.assert_allclose(frame["confidence"], _confidence(predictions, rows))

    def test_row_without_prediction(self, objects, predictions):
        frame = queue_frame(objects, predictions, np.array([199]))
        assert frame["predicted"][0] == NO_LABEL
        assert np.isnan(frame["confidence"][0])


class TestConfident:
    def _candidates(self, objects, predictions) -> np.ndarray:
        unlabelled = set_mask(objects["sets"], "unlabelled")
        return _ok(objects, predictions) & unlabelled & (objects["survey"] == DES)

    def test_is_the_papers_top_n_per_class_grouped(self, objects, predictions):
        frame = confident(objects, predictions, top=5)
        rows, _ = top_confident(predictions["probs"], self._candidates(objects, predictions), 5)
        assert frame["row"].tolist() == rows.tolist()
        assert frame["predicted"].tolist() == [0] * 5 + [1] * 5

    def test_each_class_surest_first(self, objects, predictions):
        frame = confident(objects, predictions)
        for label in (0, 1):
            confidence = frame["confidence"][frame["predicted"] == label]
            assert np.all(np.diff(confidence) <= 0)

    def test_default_takes_every_candidate(self, objects, predictions):
        frame = confident(objects, predictions)
        expected = np.flatnonzero(self._candidates(objects, predictions))
        assert sorted(frame["row"]) == expected.tolist()
        assert (objects["survey"][frame["row"]] == DES).all()

    def test_threshold(self, objects, predictions):
        frame = confident(objects, predictions, threshold=0.95)
        candidates = self._candidates(objects, predictions)
        expected = candidates & (predictions["probs"].max(axis=1) >= 0.95)
        assert sorted(frame["row"]) == np.flatnonzero(expected).tolist()
        assert 0 < len(frame["row"]) < candidates.sum()

    def test_decided_galaxies_make_room(self, objects, predictions):
        first = confident(objects, predictions, top=3)["row"]
        decided = np.zeros(len(objects["object_id"]), dtype=bool)
        decided[first[0]] = True
        frame = confident(objects, predictions, decided=decided, top=3)
        assert first[0] not in frame["row"]
        assert frame["row"][:2].tolist() == first[1:3].tolist()
        assert len(frame["row"]) == 6


class TestMisclassified:
    def test_are_the_label_disagreements_surest_first(self, objects, predictions):
        frame = misclassified(objects, predictions)
        label = objects["label"]
        wrong = _ok(objects, predictions) & (label >= 0) & (label != predictions["predicted"])
        rows = np.flatnonzero(wrong)
        expected = rows[np.argsort(-_confidence(predictions, rows), kind="stable")]
        np.testing.assert_array_equal(frame["row"], expected)
        assert sorted(frame["row"]) == sorted(MISCLASSIFIED_ROWS)

    def test_returns_the_vote_fractions(self, objects, predictions):
        frame = misclassified(objects, predictions)
        np.testing.assert_array_equal(frame["gz_p_el"], objects["gz_p_el"][frame["row"]])
        np.testing.assert_array_equal(frame["gz_p_cs"], objects["gz_p_cs"][frame["row"]])

    def test_hides_decided(self, objects, predictions):
        decided = np.zeros(len(objects["object_id"]), dtype=bool)
        decided[17] = True
        assert sorted(misclassified(objects, predictions, decided=decided)["row"]) == [3, 120]


class TestUncertain:
    def test_closest_to_half_first(self, objects, predictions):
        frame = uncertain(objects, predictions)
        rows = np.flatnonzero(_ok(objects, predictions))
        distance = np.abs(predictions["probs"][rows, 1] - 0.5)
        np.testing.assert_array_equal(frame["row"], rows[np.argsort(distance, kind="stable")])


class TestSurveysDisagree:
    def _pairs(self, objects, predictions) -> set[tuple[int, int]]:
        ok, predicted = _ok(objects, predictions), predictions["predicted"]
        return {
            (row, int(objects["match_index"][row]))
            for row in np.flatnonzero(objects["survey"] == 0).tolist()
            if ok[row]
            and ok[objects["match_index"][row]]
            and predicted[row] != predicted[objects["match_index"][row]]
        }

    def test_pairs_kept_together(self, objects, predictions):
        rows = surveys_disagree(objects, predictions)["row"]
        pairs = list(zip(rows[::2].tolist(), rows[1::2].tolist(), strict=True))
        assert set(pairs) == self._pairs(objects, predictions)
        assert len(pairs) == len(set(pairs)) > 0
        assert (objects["survey"][rows[::2]] == 0).all()
        assert (objects["survey"][rows[1::2]] == DES).all()

    def test_surest_pairs_first(self, objects, predictions):
        rows = surveys_disagree(objects, predictions)["row"]
        sure = np.minimum(_confidence(predictions, rows[::2]), _confidence(predictions, rows[1::2]))
        assert np.all(np.diff(sure) <= 0)

    def test_a_pair_is_hidden_when_both_are_decided(self, objects, predictions):
        rows = surveys_disagree(objects, predictions)["row"]
        decided = np.zeros(len(objects["object_id"]), dtype=bool)
        decided[rows[:3]] = True  # the first pair and the SDSS galaxy of the second
        hidden = surveys_disagree(objects, predictions, decided=decided)["row"]
        np.testing.assert_array_equal(hidden, rows[2:])


class TestSelection:
    def test_catalog_order_without_repeats(self, objects, predictions):
        frame = selection(objects, predictions, selection=np.array([120, 3, 199, 3]))
        assert frame["row"].tolist() == [3, 120, 199]

    def test_hides_decided(self, objects, predictions):
        decided = np.zeros(len(objects["object_id"]), dtype=bool)
        decided[3] = True
        frame = selection(objects, predictions, selection=np.array([3, 120]), decided=decided)
        assert frame["row"].tolist() == [120]


class TestRegistry:
    def test_every_queue_has_a_one_line_description(self):
        assert list(QUEUES) == [
            "confident",
            "misclassified",
            "uncertain",
            "surveys_disagree",
            "selection",
        ]
        assert all(q.description and "\n" not in q.description for q in QUEUES.values())

    def test_make_queue_passes_only_the_options_a_queue_takes(self, objects, predictions):
        options = {"top": 2, "threshold": 0.5, "selection": np.array([5])}
        assert len(make_queue("confident", objects, predictions, **options)["row"]) == 4
        assert make_queue("selection", objects, predictions, **options)["row"].tolist() == [5]
        np.testing.assert_array_equal(
            make_queue("uncertain", objects, predictions, **options)["row"],
            uncertain(objects, predictions)["row"],
        )

    def test_unknown_queue(self, objects, predictions):
        with pytest.raises(ValueError, match="queue must be one of confident, .*got 'best'"):
            make_queue("best", objects, predictions)


def test_decided_rows_maps_object_ids_to_rows(objects):
    decision = Decision(1, "2024-05-01T10:00:00+00:00", "ana", 0, "approve", 1, "r1", "")
    current = {int(objects["object_id"][k]): decision for k in (4, 150)}
    current[42] = decision  # not an object of the catalog
    assert np.flatnonzero(decided_rows(objects["object_id"], current)).tolist() == [4, 150]
    assert not decided_rows(objects["object_id"], {}).any()


def test_undecided_rows_of_a_bulk_decision(objects, predictions):
    frame = selection(objects, predictions, selection=np.array([3, 4, 199]))
    decision = Decision(1, "2024-05-01T10:00:00+00:00", "ana", 0, "unsure", -1, "r1", "")
    current = {int(objects["object_id"][4]): decision}
    assert undecided_rows(frame, current, "approve").tolist() == [3]
    assert undecided_rows(frame, current, "relabel").tolist() == [3]
    assert undecided_rows(frame, current, "artefact").tolist() == [3, 199]


class TestConfidentIsWhatRetrainingTakes:
    """The confident queue holds exactly the pseudo-labels of `next_training_set`."""

    TOP = 4

    @pytest.fixture
    def workspace(self, toy_workspace: Workspace) -> Workspace:
        """Run r1 with tied probabilities, unlabelled rows in its training set and reviews."""
        catalog = toy_workspace.catalog()
        unlabelled = np.flatnonzero(set_mask(catalog.column("sets"), "unlabelled") & catalog.ok())
        probs = np.full((len(catalog), 2), np.nan, dtype=np.float32)
        probs[catalog.ok()] = [0.7, 0.3]
        spiral = np.linspace(0.02, 0.98, len(unlabelled))
        spiral[:6] = 0.02  # six ellipticals tie at the top: catalog order decides
        spiral[-3:] = 0.98
        probs[unlabelled] = np.c_[1 - spiral, spiral]
        trained = np.r_[np.flatnonzero(set_mask(catalog.column("sets"), "train")), unlabelled[1]]
        run = catalog.create_run("r1", parent=None)
        run.write("probs", probs)
        run.write("train_index", trained)
        run.write("train_label", np.zeros(len(trained), dtype=np.int8))
        ledger, ids = toy_workspace.ledger(), catalog.column("object_id")
        for row, decision, label in [
            (unlabelled[0], "approve", 0),
            (unlabelled[2], "relabel", 1),
            (unlabelled[-1], "artefact", None),
            (unlabelled[-2], "unsure", None),
        ]:
            ledger.record_decision(int(ids[row]), decision, reviewer="ana", label=label)
        object_id = int(ids[unlabelled[3]])
        retracted = ledger.record_decision(object_id, "artefact", reviewer="ana")
        ledger.record_decision(object_id, "retract", retracts=retracted, reviewer="ana")
        return toy_workspace

    @pytest.mark.parametrize("hide_decided", [False, True])
    def test_queue_rows_are_the_next_runs_pseudo_labels(self, workspace, hide_decided):
        catalog = workspace.catalog(mode="r")
        current = workspace.ledger().current()
        chosen = next_training_set(catalog, "r1", current, top=self.TOP)
        run = catalog.run("r1")
        reviewed = np.flatnonzero(decided_rows(catalog.column("object_id"), current))
        not_pseudo = set(run.read("train_index").tolist()) | set(reviewed.tolist())
        pseudo = {
            row: label
            for row, label in zip(chosen.rows.tolist(), chosen.labels.tolist(), strict=True)
            if row not in not_pseudo
        }
        session = ReviewSession(workspace=workspace, run="r1", hide_decided=hide_decided)
        frame = session.queue_frame("confident", top=self.TOP)
        undecided = ~np.isin(frame["row"], reviewed)
        queued = dict(
            zip(
                frame["row"][undecided].tolist(),
                frame["predicted"][undecided].tolist(),
                strict=True,
            )
        )
        assert queued == pseudo
        assert len(queued) == chosen.n_pseudo == 2 * self.TOP
        # Ties keep catalog order; the decided galaxies stay where they rank unless hidden.
        unlabelled = np.flatnonzero(set_mask(catalog.column("sets"), "unlabelled") & catalog.ok())
        ellipticals = [3, 4, 5, 6] if hide_decided else [0, 2, 3, 4, 5, 6]
        spirals = [-3, -4, -5, -6] if hide_decided else [-3, -2, -1, -4, -5, -6]
        shown = ellipticals + spirals
        assert frame["row"].tolist() == unlabelled[shown].tolist()

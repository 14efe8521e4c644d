"""ReviewSession and its loaders: set params, assert the derived state."""

from __future__ import annotations

import numpy as np
import param
import pytest

from dashboard._session_data import SessionData
from dashboard._session_decisions import SessionDecisions
from dashboard.data import (
    ALL_SURVEYS,
    data_version,
    embedded_runs,
    load_objects,
    load_predictions,
    select_frame,
)
from dashboard.session import ReviewSession
from store import SchemaError, StoreNotFoundError, Workspace
from tests.dashboard.conftest import MISCLASSIFIED_ROWS, write_run

N_OK = 199
"""The toy catalog has 200 objects; the last one failed curation."""


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


class TestLoaders:
    def test_embedded_runs_skip_runs_without_embedding(self, review_workspace):
        assert embedded_runs(review_workspace) == ["r0", "r1"]

    def test_objects_are_cached_and_read_only(self, review_workspace):
        root, version = str(review_workspace.root), data_version(review_workspace)
        objects = load_objects(root, version)
        assert load_objects(root, version) is objects
        with pytest.raises(ValueError, match="read-only"):
            objects["label"][0] = 1

    def test_predictions_mark_failed_rows_invalid(self, review_workspace):
        arrays = load_predictions(
            str(review_workspace.root), "r1", data_version(review_workspace, "r1")
        )
        assert not arrays["valid"][-1]
        assert arrays["valid"][:-1].all()
        assert arrays["predicted"][-1] == -1
        np.testing.assert_array_equal(arrays["predicted"][:-1], arrays["probs"][:-1].argmax(1))

    def test_new_embedding_changes_the_version(self, review_workspace):
        before = data_version(review_workspace, "r1")
        run = review_workspace.catalog().run("r1")
        run.write("embedding", np.zeros((200, 3)))
        assert data_version(review_workspace, "r1") > before
        assert data_version(review_workspace) <= before

    def test_select_frame_rejects_unknown_survey(self):
        with pytest.raises(ValueError, match="survey must be 'all' or one of sdss, des, got 'hst'"):
            select_frame({}, {}, survey="hst")


class TestInit:
    def test_newest_embedded_run_is_shown(self, session):
        assert session.run == "r1"
        assert session.param.run.objects == ["r0", "r1", "r2"]  # r2 has no embedding yet
        assert session.survey == ALL_SURVEYS
        assert session.selected_row is None
        assert session.selected_ids == []

    def test_run_can_be_chosen(self, review_workspace):
        assert ReviewSession(workspace=review_workspace, run="r0").run == "r0"

    def test_unknown_run_is_refused(self, review_workspace):
        with pytest.raises(ValueError, match=r"run must be one of the runs \(r0, r1, r2\)"):
            ReviewSession(workspace=review_workspace, run="r9")

    def test_workspace_without_runs_shows_no_run(self, toy_workspace):
        assert ReviewSession(workspace=toy_workspace).run is None  # see test_bad_input.py

    def test_workspace_without_catalog(self, tmp_path):
        with pytest.raises(StoreNotFoundError, match="no catalog"):
            ReviewSession(workspace=Workspace(tmp_path))

    def test_selection_is_synced(self, review_workspace):
        session = ReviewSession(workspace=review_workspace, selected_ids=[500000020])
        assert session.selected_row == 120

    def test_row_outside_the_catalog(self, review_workspace):
        with pytest.raises(ValueError, match="selected_row.* must be at most 199, not 200"):
            ReviewSession(workspace=review_workspace, selected_row=200)

    def test_ledger_state_is_read_back(self, review_workspace):
        review_workspace.ledger().record_decision(1, "approve", label=0, reviewer="bo")
        assert ReviewSession(workspace=review_workspace).ledger_state == 1


class TestFilters:
    def test_all_curated_objects_are_shown(self, session):
        assert session.count == N_OK
        np.testing.assert_array_equal(session.frame["row"], np.arange(N_OK))
        assert set(session.frame["predicted"]) == {"elliptical", "spiral"}
        assert set(session.frame["label"]) == {"elliptical", "spiral", "none"}

    def test_misclassified_only(self, session):
        session.misclassified_only = True
        assert session.count == len(MISCLASSIFIED_ROWS)
        np.testing.assert_array_equal(session.frame["row"], MISCLASSIFIED_ROWS)
        assert (session.frame["predicted"] != session.frame["label"]).all()

    @pytest.mark.parametrize(
        ("survey", "misclassified_only", "count"),
        [
            pytest.param("sdss", False, 100, id="sdss"),
            pytest.param("des", False, 99, id="des-without-failed"),
            pytest.param("sdss", True, 2, id="sdss-misclassified"),
            pytest.param("des", True, 1, id="des-misclassified"),
        ],
    )
    def test_survey(self, session, survey, misclassified_only, count):
        session.param.update(survey=survey, misclassified_only=misclassified_only)
        assert session.count == count
        assert set(session.frame["survey"]) == {survey}

    def test_run_change_reloads(self, session):
        session.misclassified_only = True
        session.run = "r0"
        assert session.count == len(MISCLASSIFIED_ROWS)
        assert session.frame["confidence"].shape == (len(MISCLASSIFIED_ROWS),)

    def test_count_text(self, session):
        session.survey = "des"
        assert session._count_text() == f"**99** of {N_OK} galaxies shown"


class TestSelection:
    def test_selected_galaxy_details(self, session):
        session.selected_row = 3
        galaxy = session.galaxy
        assert galaxy.object_id == 1237650000000000003
        assert galaxy.survey == "sdss"
        assert galaxy.sets == ("train",)
        assert galaxy.predicted_name != galaxy.label
        assert galaxy.probs[galaxy.predicted] == max(galaxy.probs)
        assert galaxy.gz_p_el + galaxy.gz_p_cs == pytest.approx(1)

    def test_row_sets_ids(self, session):
        session.selected_row = 120
        assert session.selected_ids == [500000020]
        session.selected_row = None
        assert session.selected_ids == []
        assert session.galaxy is None

    def test_ids_set_row(self, session):
        session.selected_ids = [500000020, 1237650000000000003]
        assert session.selected_row == 3
        assert session.selected_ids == [500000020, 1237650000000000003]
        session.selected_ids = [1237650000000000017]
        assert session.selected_row == 17

    def test_failed_object_has_no_prediction(self, session):
        session.selected_row = 199
        assert session.galaxy.predicted_name == "none"
        assert np.isnan(session.galaxy.probs).all()


class TestDecide:
    def test_approve_writes_the_ledger(self, session, review_workspace):
        session.selected_row = 17
        predicted = session.galaxy.predicted
        decision_id = session.decide("approve")
        (row,) = review_workspace.ledger().history(1237650000000000017)
        assert (row.id, row.decision, row.label) == (decision_id, "approve", predicted)
        assert (row.reviewer, row.run) == ("ana", "r1")
        assert session.ledger_state == decision_id
        assert session.history == [row]

    def test_decisions_survive_a_new_store(self, session, review_workspace):
        session.selected_row = 5
        session.decide("relabel")
        again = ReviewSession(workspace=review_workspace, selected_row=5)
        assert [row.decision for row in again.history] == ["relabel"]
        assert again.selected_ids == [1237650000000000005]

    def test_relabel_defaults_to_the_other_class(self, session, review_workspace):
        session.selected_row = 17
        predicted = session.galaxy.predicted
        session.decide("relabel")
        session.decide("artefact")
        history = review_workspace.ledger().history(1237650000000000017)
        assert [(row.decision, row.label) for row in history] == [
            ("relabel", 1 - predicted),
            ("artefact", -1),
        ]

    def test_nothing_selected(self, session):
        with pytest.raises(ValueError, match="select a galaxy before you approve its label"):
            session.decide("approve")

    def test_no_prediction(self, session):
        session.selected_row = 199
        with pytest.raises(ValueError, match="galaxy 500000099 has no prediction in run 'r1'"):
            session.decide("approve")

    def test_empty_reviewer(self, session):
        session.param.update(selected_row=1, reviewer=" ")
        with pytest.raises(SchemaError, match="reviewer must name who decided"):
            session.decide("approve")


def test_history_follows_the_run_written(review_workspace):
    write_run(review_workspace, "r3", created="2024-04-01T00:00:00+00:00", embed=True, seed=4)
    session = ReviewSession(workspace=review_workspace, selected_row=2, reviewer="ana")
    session.decide("approve")
    session.run = "r0"
    session.decide("relabel")
    assert [(row.run, row.decision) for row in session.history] == [
        ("r3", "approve"),
        ("r0", "relabel"),
    ]


@pytest.mark.parametrize("mixin", [SessionData, SessionDecisions])
def test_mixins_declare_no_params_or_watchers(mixin):
    # param ignores both on a class that is not Parameterized: ReviewSession declares them.
    assert not issubclass(mixin, param.Parameterized)
    assert issubclass(ReviewSession, mixin)
    declared = [
        name
        for name, value in vars(mixin).items()
        if isinstance(value, param.Parameter) or hasattr(value, "_dinfo")
    ]
    assert declared == []

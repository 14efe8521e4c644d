"""The next training set from the review ledger, on the rows of a toy workspace."""

import sqlite3
from unittest import mock

import numpy as np
import pytest

from galcore.cli.main import main
from galcore.errors import TrainingError
from galcore.recursion import next_training_set, recurse
from store import set_mask
from tests.galcore.test_analysis import _perfect_probs, _run_with_probs

TOP = 3


@pytest.fixture
def parent(toy_workspace):
    """Run r1: trained on the toy train set; unlabelled objects ramp from elliptical to spiral.

    Returns the parent's training labels (row -> label) and the unlabelled rows, from the most
    confident elliptical to the most confident spiral.
    """
    catalog = toy_workspace.catalog()
    probs = _perfect_probs(catalog)
    unlabelled = np.flatnonzero(set_mask(catalog.column("sets"), "unlabelled") & catalog.ok())
    probs[unlabelled] = np.linspace(0.01, 0.99, len(unlabelled))[:, None] * [-1, 1] + [1, 0]
    run = _run_with_probs(toy_workspace, probs)
    labels = dict(
        zip(run.read("train_index").tolist(), run.read("train_label").tolist(), strict=True)
    )
    return labels, unlabelled.tolist()


def _decide(workspace, row, decision, **values):
    object_id = int(workspace.catalog().column("object_id")[row])
    return workspace.ledger().record_decision(object_id, decision, reviewer="ana", **values)


def _next(workspace, *, top=TOP, upto=None):
    decisions = workspace.ledger().current(upto=upto)
    chosen = next_training_set(workspace.catalog(), "r1", decisions, top=top)
    labels = dict(zip(chosen.rows.tolist(), chosen.labels.tolist(), strict=True))
    sources = chosen.n_parent + chosen.n_pseudo + chosen.n_approved + chosen.n_relabelled
    assert sources == len(labels)
    return labels, chosen


def _without(labels, *rows):
    return {row: label for row, label in labels.items() if row not in rows}


class TestNextTrainingSet:
    def test_top_adds_the_most_confident_unlabelled_predictions_of_each_class(
        self, toy_workspace, parent
    ):
        parent_labels, unlabelled = parent
        labels, chosen = _next(toy_workspace)
        pseudo = dict.fromkeys(unlabelled[:TOP], 0) | dict.fromkeys(unlabelled[-TOP:], 1)
        assert labels == parent_labels | pseudo
        assert (chosen.n_parent, chosen.n_pseudo) == (len(parent_labels), 2 * TOP)

    def test_top_0_adds_only_what_people_decided(self, toy_workspace, parent):
        parent_labels, unlabelled = parent
        assert _next(toy_workspace, top=0)[0] == parent_labels
        _decide(toy_workspace, unlabelled[40], "approve", label=1)
        labels, chosen = _next(toy_workspace, top=0)
        assert labels == parent_labels | {unlabelled[40]: 1}
        assert (chosen.n_pseudo, chosen.n_approved) == (0, 1)

    def test_an_approved_unlabelled_galaxy_joins_with_its_label(self, toy_workspace, parent):
        parent_labels, unlabelled = parent
        _decide(toy_workspace, unlabelled[40], "approve", label=0, run="r1")
        labels, chosen = _next(toy_workspace)
        assert labels[unlabelled[40]] == 0
        assert (chosen.n_approved, chosen.n_pseudo) == (1, 2 * TOP)

    def test_a_relabelled_galaxy_joins_with_the_new_label(self, toy_workspace, parent):
        parent_labels, unlabelled = parent
        trained = next(iter(parent_labels))
        _decide(toy_workspace, trained, "relabel", label=1 - parent_labels[trained])
        _decide(toy_workspace, unlabelled[40], "relabel", label=1)
        labels, chosen = _next(toy_workspace)
        assert labels[trained] == 1 - parent_labels[trained]
        assert labels[unlabelled[40]] == 1
        assert (chosen.n_parent, chosen.n_relabelled) == (len(parent_labels) - 1, 2)

    def test_artefact_and_unsure_galaxies_leave_the_parents_set(self, toy_workspace, parent):
        parent_labels, unlabelled = parent
        artefact, unsure = list(parent_labels)[:2]
        _decide(toy_workspace, artefact, "artefact")
        _decide(toy_workspace, unsure, "unsure")
        labels, chosen = _next(toy_workspace, top=0)
        assert labels == _without(parent_labels, artefact, unsure)
        assert (chosen.n_left_out_artefact, chosen.n_left_out_unsure) == (1, 1)

    def test_a_retracted_artefact_comes_back(self, toy_workspace, parent):
        parent_labels, unlabelled = parent
        artefact = next(iter(parent_labels))
        decision = _decide(toy_workspace, artefact, "artefact")
        _decide(toy_workspace, artefact, "retract", retracts=decision)
        labels, chosen = _next(toy_workspace, top=0)
        assert labels == parent_labels
        assert chosen.n_left_out_artefact == 0

    def test_a_galaxy_relabelled_away_from_a_class_is_never_its_pseudo_label(
        self, toy_workspace, parent
    ):
        parent_labels, unlabelled = parent
        spiral, elliptical = unlabelled[-1], unlabelled[0]  # the most confident of each
        _decide(toy_workspace, spiral, "relabel", label=0)
        old_reject = "INSERT INTO decisions (created, reviewer, object_id, decision, label)"
        object_id = int(toy_workspace.catalog().column("object_id")[elliptical])
        with sqlite3.connect(toy_workspace.ledger_path) as db:  # as an old ledger holds it
            db.execute(f"{old_reject} VALUES ('', 'ana', ?, 'reject', 0)", (object_id,))
        db.close()
        labels, chosen = _next(toy_workspace)
        assert (labels[spiral], labels[elliptical]) == (0, 1)
        pseudo = dict.fromkeys(unlabelled[1 : TOP + 1], 0) | dict.fromkeys(
            unlabelled[-TOP - 1 : -1], 1
        )
        assert labels == parent_labels | pseudo | {spiral: 0, elliptical: 1}
        assert (chosen.n_relabelled, chosen.n_pseudo) == (2, 2 * TOP)

    def test_galaxies_with_any_decision_are_no_pseudo_labels(self, toy_workspace, parent):
        parent_labels, unlabelled = parent
        _decide(toy_workspace, unlabelled[0], "unsure")
        _decide(toy_workspace, unlabelled[-1], "artefact")
        labels, chosen = _next(toy_workspace)
        assert unlabelled[0] not in labels
        assert unlabelled[-1] not in labels
        assert chosen.n_pseudo == 2 * TOP
        assert labels[unlabelled[TOP]] == 0
        assert labels[unlabelled[-TOP - 1]] == 1

    def test_decisions_about_unknown_or_failed_objects_are_ignored(
        self, toy_workspace, parent, caplog
    ):
        parent_labels, unlabelled = parent
        toy_workspace.ledger().record_decision(123, "approve", label=0, reviewer="ana")
        _decide(toy_workspace, 199, "relabel", label=1)  # it failed curation
        labels, chosen = _next(toy_workspace, top=0)
        assert labels == parent_labels
        assert chosen.n_ignored == 2
        assert "2 reviewed objects are not curated objects" in caplog.text


class TestRecurse:
    def test_trains_on_the_recorded_ledger_state_and_records_the_sources(
        self, toy_workspace, parent, capsys
    ):
        parent_labels, unlabelled = parent
        _decide(toy_workspace, unlabelled[40], "approve", label=0)
        _decide(toy_workspace, next(iter(parent_labels)), "artefact")
        result = mock.Mock(rank=0, run="r2", val_accuracy=0.9, wall_time_s=1.0, model_path="m")
        argv = ["recurse", "--workspace", str(toy_workspace.root), "--from", "r1", "--run", "r2"]
        with mock.patch("galcore.training.train", return_value=result) as train:
            assert main([*argv, "--top", "2", "--profile", "test"]) == 0
        (config,), options = train.call_args
        assert config.ledger_state == 2
        assert options["provenance"] == {
            "top": 2,
            "n_parent": len(parent_labels) - 1,
            "n_pseudo": 4,
            "n_approved": 1,
            "n_relabelled": 0,
            "n_left_out_artefact": 1,
            "n_left_out_unsure": 0,
            "n_ignored": 0,
        }
        out = capsys.readouterr().out
        assert f"{len(parent_labels) + 4} labels ({len(parent_labels) - 1} from the parent," in out
        assert "4 confident predictions, 1 approved, 0 relabelled); left out: artefact 1," in out

        _decide(toy_workspace, unlabelled[41], "relabel", label=1)  # after r2 read the ledger
        examples = options["examples"]
        replayed, _ = _next(toy_workspace, top=2, upto=config.ledger_state)
        assert replayed == dict(zip(examples.rows.tolist(), examples.labels.tolist(), strict=True))
        assert unlabelled[41] in _next(toy_workspace, top=2)[0]

    def test_refuses_a_negative_top(self, toy_workspace):
        with pytest.raises(TrainingError, match="top must be >= 0, got -1"):
            recurse(toy_workspace.root, "r1", "r2", top=-1)

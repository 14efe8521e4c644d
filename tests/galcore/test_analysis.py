"""Evaluation, export, embedding and recursion on a toy workspace with a fake-free run."""

import json

import numpy as np
import pandas as pd
import pytest

from galcore.embedding import TSNEEmbedder, embed_run
from galcore.errors import NotFittedError, TrainingError
from galcore.evaluation import classification_metrics, evaluate_run, format_table
from galcore.export import export_catalog
from galcore.recursion import next_training_set, recurse
from store import set_mask


def _run_with_probs(workspace, probs, name="r1"):
    catalog = workspace.catalog()
    run = catalog.create_run(name, parent=None)
    run.write("probs", probs)
    train = np.flatnonzero(set_mask(catalog.column("sets"), "train"))
    run.write("train_index", train)
    run.write("train_label", catalog.column("label")[train])
    return run


def _perfect_probs(catalog):
    labels = catalog.column("label")
    probs = np.where(labels[:, None] == 1, [0.1, 0.9], [0.8, 0.2]).astype(np.float32)
    probs[~catalog.ok()] = np.nan
    return probs


class TestMetrics:
    def test_perfect_and_wrong_predictions(self):
        labels = np.array([0, 0, 1, 1])
        probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
        metrics = classification_metrics(labels, probs)
        assert metrics["accuracy"] == 0.75
        assert metrics["precision"] == 1.0
        assert metrics["recall"] == 0.5
        assert metrics["accuracy_top50"] == 1.0  # the two most confident are right
        assert metrics["n"] == 4

    def test_evaluate_run_records_table_two(self, toy_workspace):
        catalog = toy_workspace.catalog()
        probs = _perfect_probs(catalog)
        wrong = np.flatnonzero(set_mask(catalog.column("sets"), "hp_test"))[0]
        probs[wrong] = probs[wrong][::-1]
        _run_with_probs(toy_workspace, probs)
        metrics = evaluate_run(toy_workspace.root, "r1")
        assert set(metrics) == {"hp_test/sdss"}
        assert metrics["hp_test/sdss"]["n"] == 20
        assert metrics["hp_test/sdss"]["accuracy"] == 0.95
        assert toy_workspace.catalog().run("r1").attrs["test_metrics"] == metrics
        saved = json.loads((toy_workspace.model_dir("r1") / "metrics.json").read_text())
        assert saved == metrics
        assert "HP SDSS            20    95.00%" in format_table(metrics)

    def test_a_run_without_predictions_on_test_objects_is_an_error(self, toy_workspace):
        catalog = toy_workspace.catalog()
        _run_with_probs(toy_workspace, np.full((len(catalog), 2), np.nan))
        with pytest.raises(TrainingError, match="no labelled test object has a prediction"):
            evaluate_run(toy_workspace.root, "r1")


class TestExport:
    def test_one_row_per_object_with_sets_status_and_decisions(self, toy_workspace, tmp_path):
        catalog = toy_workspace.catalog()
        _run_with_probs(toy_workspace, _perfect_probs(catalog))
        ids = catalog.column("object_id")
        toy_workspace.ledger().record_decision(int(ids[0]), "approve", label=1, reviewer="ana")
        out = tmp_path / "out" / "catalog.csv"
        assert export_catalog(toy_workspace.root, out, run="r1") == len(catalog)
        table = pd.read_csv(out, keep_default_na=False)
        assert list(table.columns[:10]) == [
            "object_id",
            "survey",
            "ra",
            "dec",
            "label",
            "gz_p_el",
            "gz_p_cs",
            "match_id",
            "sets",
            "status",
        ]
        assert table["object_id"].tolist() == ids.tolist()
        assert table.loc[0, "decision"] == "approve"
        assert table.loc[0, "decision_label"] == "spiral"
        assert table.loc[199, "failure"] == "galaxy 500000099: off the frame"
        assert table.loc[0, "failure"] == ""
        assert table.loc[1, "decision"] == ""
        assert table.loc[199, "status"] == "off_frame"
        assert table.loc[199, "predicted"] == ""
        assert table.loc[0, "match_id"] == ids[100]
        assert set(table["sets"]) >= {"train", "val", "hp_test", "unlabelled"}
        assert (table["predicted"][:100] == table["label"][:100]).all()
        assert list(out.parent.iterdir()) == [out]

    def test_without_a_run_there_are_no_prediction_columns(self, toy_workspace, tmp_path):
        out = tmp_path / "catalog.csv"
        export_catalog(toy_workspace.root, out)
        assert "predicted" not in pd.read_csv(out).columns


class TestEmbedding:
    def test_embedder_separates_two_clusters_in_3d(self):
        rng = np.random.default_rng(0)
        features = np.concatenate([rng.normal(0, 1, (150, 20)), rng.normal(6, 1, (150, 20))])
        embedder = TSNEEmbedder(perplexity=10, random_state=0).fit(features)
        assert embedder.embedding_.shape == (300, 3)
        first, second = embedder.embedding_[:150].mean(0), embedder.embedding_[150:].mean(0)
        spread = embedder.embedding_[:150].std(0).mean()
        assert np.linalg.norm(first - second) > 3 * spread
        placed = embedder.transform(rng.normal(6, 1, (5, 20)))
        assert np.linalg.norm(placed.mean(0) - second) < np.linalg.norm(placed.mean(0) - first)

    def test_transform_before_fit_is_an_error(self):
        with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
            TSNEEmbedder().transform(np.zeros((3, 4)))

    @pytest.mark.parametrize(
        ("options", "n", "match"),
        [
            pytest.param({"n_components": 4}, 100, "n_components must be 2 or 3", id="dims"),
            pytest.param({"perplexity": 30}, 50, "needs more than 90 points", id="few"),
        ],
    )
    def test_bad_parameters_are_refused_in_fit(self, options, n, match):
        embedder = TSNEEmbedder(**options)
        with pytest.raises(TrainingError, match=match):
            embedder.fit(np.zeros((n, 4)))

    def test_embed_run_fits_a_sample_and_places_the_rest(self, toy_workspace):
        catalog = toy_workspace.catalog()
        run = catalog.create_run("r1")
        rng = np.random.default_rng(1)
        features = rng.normal(0, 1, (len(catalog), 16)).astype(np.float32)
        features[~catalog.ok()] = np.nan
        run.write("features", features)
        embedding = embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120)
        stored = toy_workspace.catalog().run("r1").read("embedding")
        np.testing.assert_array_equal(stored, embedding)
        assert np.isfinite(stored[catalog.ok()]).all()
        assert np.isnan(stored[~catalog.ok()]).all()


class TestRecursion:
    def test_adds_confident_unlabelled_and_approved_and_drops_rejected(self, toy_workspace):
        catalog = toy_workspace.catalog()
        probs = _perfect_probs(catalog)
        unlabelled = np.flatnonzero(set_mask(catalog.column("sets"), "unlabelled") & catalog.ok())
        probs[unlabelled] = np.linspace(0.01, 0.99, len(unlabelled))[:, None] * [-1, 1] + [1, 0]
        run = _run_with_probs(toy_workspace, probs)
        parent_rows, parent_labels = run.read("train_index"), run.read("train_label")
        ids = catalog.column("object_id")
        ledger = toy_workspace.ledger()
        first, second = (int(ids[row]) for row in parent_rows[:2])
        ledger.record_decision(first, "reject", label=int(parent_labels[0]), reviewer="ana")
        ledger.record_decision(second, "reject", label=1 - int(parent_labels[1]), reviewer="ana")
        ledger.record_decision(int(ids[unlabelled[40]]), "approve", label=0, reviewer="ana")
        ledger.record_decision(int(ids[unlabelled[-1]]), "reject", label=1, reviewer="ana")
        ledger.record_decision(123, "approve", label=0, reviewer="ana")
        result = next_training_set(catalog, "r1", ledger.latest(), top=3)
        labels = dict(zip(result.rows.tolist(), result.labels.tolist(), strict=True))
        assert parent_rows[0] not in labels  # its label was rejected
        assert labels[parent_rows[1]] == parent_labels[1]  # a rejected prediction, not its label
        assert labels[unlabelled[40]] == 0
        assert unlabelled[-1] not in labels  # most confident spiral, but rejected
        assert labels[unlabelled[-2]] == 1
        assert labels[unlabelled[0]] == 0  # most confident elliptical
        assert result.n_pseudo == 5
        assert result.provenance() == {
            "n_parent": len(parent_rows),
            "n_pseudo": 5,
            "n_approved": 1,
            "n_rejected": 3,
        }
        assert len(result.rows) == len(parent_rows) - 1 + 5 + 1
        assert (np.diff(result.rows) > 0).all()


def test_recursion_refuses_a_negative_top(toy_workspace):
    with pytest.raises(TrainingError, match="top must be >= 0, got -1"):
        recurse(toy_workspace.root, "r1", "r2", top=-1)

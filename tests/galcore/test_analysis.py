"""Evaluation, export and embedding on a toy workspace with a fake-free run."""

import json
import pickle
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from galcore.embedding import MAP_FILE, TSNEEmbedder, embed_run, place_block
from galcore.errors import NotFittedError, TrainingError
from galcore.evaluation import (
    FRACTIONS,
    ROC_POINTS,
    classification_metrics,
    confidence_curve,
    evaluate_run,
    format_table,
    roc_auc,
    roc_curve,
)
from galcore.export import export_catalog
from store import set_mask
from tests.conftest import block_write_fails_at


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


# Ten objects, spiral positive: TP 3, FN 1 (0.32), FP 2 (0.74, 0.56), TN 4.
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
SPIRAL = np.array([0.95, 0.85, 0.62, 0.32, 0.74, 0.56, 0.41, 0.22, 0.12, 0.47])
PROBS = np.c_[1 - SPIRAL, SPIRAL]


def _strict_loads(text):
    """json.loads that refuses the NaN and Infinity tokens, which strict JSON does not have."""

    def refuse(token):
        raise ValueError(token)

    return json.loads(text, parse_constant=refuse)


class TestMetrics:
    def test_rates_of_a_known_confusion_matrix(self):
        metrics = classification_metrics(LABELS, PROBS)
        assert metrics["n"] == 10
        assert metrics["accuracy"] == pytest.approx(0.7)
        assert metrics["precision"] == pytest.approx(3 / 5)
        assert metrics["recall"] == pytest.approx(3 / 4)
        assert metrics["fpr"] == pytest.approx(2 / 6)
        assert metrics["f1"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
        # Each spiral outscores 6, 6, 5 and 2 of the 6 ellipticals.
        assert metrics["auc"] == pytest.approx(19 / 24)

    def test_top50_is_every_rate_on_the_most_confident_half(self):
        # Confidences: 0.95 TP, 0.88 TN, 0.85 TP, 0.78 TN, 0.74 FP | 0.68 FN, 0.62 TP, ...
        top = classification_metrics(LABELS, PROBS)["top50"]
        assert top == pytest.approx(
            {"n": 5, "accuracy": 0.8, "precision": 2 / 3, "recall": 1.0, "fpr": 1 / 3, "f1": 0.8}
        )

    def test_full_roc_curve_by_hand(self):
        fpr, tpr, threshold = roc_curve(LABELS, SPIRAL)
        np.testing.assert_allclose(fpr, np.array([0, 0, 0, 1, 1, 2, 3, 4, 4, 5, 6]) / 6)
        np.testing.assert_allclose(tpr, np.array([0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4]) / 4)
        assert threshold[0] > SPIRAL.max()
        np.testing.assert_array_equal(threshold[1:], np.sort(SPIRAL)[::-1])

    @pytest.mark.parametrize(
        ("scores", "auc"),
        [
            pytest.param(np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]), 1.0, id="perfect"),
            pytest.param(np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1]), 0.0, id="reversed"),
            pytest.param(np.full(6, 0.5), 0.5, id="all-tied"),
        ],
    )
    def test_auc_of_perfect_reversed_and_tied_rankings(self, scores, auc):
        assert roc_auc(np.array([0, 0, 0, 1, 1, 1]), scores) == auc

    def test_auc_of_a_random_ranking_is_one_half(self):
        rng = np.random.default_rng(3)
        labels, scores = rng.integers(0, 2, 20_000), rng.uniform(size=20_000)
        assert roc_auc(labels, scores) == pytest.approx(0.5, abs=0.01)

    def test_auc_is_the_mann_whitney_statistic(self):
        rng = np.random.default_rng(4)
        labels = rng.integers(0, 2, 400)
        scores = np.round(rng.normal(labels * 0.5, 1.0), 1)  # many ties
        positive, negative = scores[labels == 1], scores[labels == 0]
        wins = (positive[:, None] > negative).sum() + 0.5 * (positive[:, None] == negative).sum()
        assert roc_auc(labels, scores) == pytest.approx(wins / (len(positive) * len(negative)))

    def test_stored_roc_is_thinned_monotone_and_spans_the_square(self):
        rng = np.random.default_rng(5)
        labels = rng.integers(0, 2, 5000)
        spiral = 1 / (1 + np.exp(-rng.normal(2 * labels - 1, 1.5)))
        metrics = classification_metrics(labels, np.c_[1 - spiral, spiral])
        roc = {key: np.array(values) for key, values in metrics["roc"].items()}
        assert len(roc_curve(labels, spiral)[0]) > 1000
        assert 100 <= len(roc["fpr"]) <= ROC_POINTS
        assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
        assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
        assert (np.diff(roc["fpr"]) >= 0).all()
        assert (np.diff(roc["tpr"]) >= 0).all()
        assert (np.diff(roc["threshold"]) < 0).all()
        assert np.abs(np.diff(roc["fpr"]) + np.diff(roc["tpr"])).max() < 0.02  # no big gaps
        assert metrics["auc"] == roc_auc(labels, spiral)  # exact, from the full curve
        thinned = np.sum(np.diff(roc["fpr"]) * (roc["tpr"][1:] + roc["tpr"][:-1])) / 2
        assert thinned == pytest.approx(metrics["auc"], abs=1e-3)

    def test_confidence_curve_ends_at_the_overall_rates(self):
        rng = np.random.default_rng(6)
        labels = rng.integers(0, 2, 301)
        spiral = np.clip(labels * 0.5 + rng.normal(0.25, 0.3, 301), 0, 1)
        metrics = classification_metrics(labels, np.c_[1 - spiral, spiral])
        curve = metrics["confidence_curve"]
        assert curve["fraction"] == list(FRACTIONS)
        assert curve["fraction"][0] == 0.05
        assert curve["fraction"][-1] == 1.0
        assert len(curve["fraction"]) == 20
        assert curve["accuracy"][-1] == metrics["accuracy"]
        assert curve["f1"][-1] == metrics["f1"]
        half = curve["fraction"].index(0.5)
        assert (curve["accuracy"][half], curve["f1"][half]) == (
            metrics["top50"]["accuracy"],
            metrics["top50"]["f1"],
        )
        assert metrics["top50"]["n"] == 150
        assert curve["accuracy"][0] > metrics["accuracy"]  # the most confident are better

    def test_confidence_curve_keeps_the_floor_of_each_fraction_and_at_least_one(self):
        spiral = np.array([0.9, 0.8, 0.4])  # confidences 0.9 (TP), 0.8 (FP), 0.6 (FN)
        curve = confidence_curve(np.array([1, 0, 1]), np.c_[1 - spiral, spiral], (0.05, 0.7, 1.0))
        assert curve["accuracy"] == pytest.approx([1.0, 0.5, 1 / 3])
        assert curve["f1"] == pytest.approx([1.0, 2 / 3, 0.5])

    @pytest.mark.parametrize(
        ("label", "undefined", "defined"),
        [
            pytest.param(0, {"auc", "recall"}, {"fpr": 0.5, "f1": 0.0}, id="ellipticals"),
            pytest.param(1, {"auc", "fpr"}, {"recall": 0.5, "precision": 1.0}, id="spirals"),
        ],
    )
    def test_one_class_sets_store_undefined_metrics_as_null(self, label, undefined, defined):
        labels = np.full(4, label)
        spiral = np.array([0.9, 0.8, 0.3, 0.2])
        metrics = _strict_loads(
            json.dumps(classification_metrics(labels, np.c_[1 - spiral, spiral]))
        )
        assert {key for key, value in metrics.items() if value is None} == undefined
        assert {key: metrics[key] for key in defined} == defined
        assert metrics["accuracy"] == 0.5
        assert metrics["roc"] == {"fpr": [], "tpr": [], "threshold": []}
        assert np.isnan(roc_auc(labels, spiral))
        json.dumps(metrics, allow_nan=False)

    def test_evaluate_run_records_every_metric(self, toy_workspace):
        catalog = toy_workspace.catalog()
        probs = _perfect_probs(catalog)
        hp_test = np.flatnonzero(set_mask(catalog.column("sets"), "hp_test"))
        probs[hp_test[0]] = probs[hp_test[0]][::-1]
        _run_with_probs(toy_workspace, probs)
        metrics = evaluate_run(toy_workspace.root, "r1")
        assert set(metrics) == {"hp_test/sdss"}
        hp = metrics["hp_test/sdss"]
        assert set(hp) == {
            "n", "accuracy", "precision", "recall", "fpr", "f1", "auc", "top50", "roc",
            "confidence_curve",
        }  # fmt: skip
        assert hp["n"] == 20
        assert hp["accuracy"] == 0.95
        assert hp["top50"]["n"] == 10
        labels = catalog.column("label")[hp_test]
        assert hp["auc"] == roc_auc(labels, probs[hp_test, 1])
        assert toy_workspace.catalog().run("r1").attrs["test_metrics"] == metrics
        saved = _strict_loads((toy_workspace.model_dir("r1") / "metrics.json").read_text())
        assert saved == metrics
        table = format_table(metrics)
        assert table.splitlines()[0].split() == [
            "test", "set", "n", "accuracy", "precision", "recall", "FPR", "F1", "AUC", "top50",
            "acc", "top50", "F1",
        ]  # fmt: skip
        assert table.splitlines()[2].startswith("HP SDSS            20    95.00%")
        assert f"{hp['auc']:.3f}" in table

    def test_table_shows_undefined_values_as_dashes(self):
        spiral = np.array([0.9, 0.8, 0.3, 0.2])
        metrics = {"fo_test/des": classification_metrics(np.ones(4), np.c_[1 - spiral, spiral])}
        row = format_table(metrics).splitlines()[2].split()
        assert row == [
            "FO",
            "DES",
            "4",
            "50.00%",
            "1.000",
            "0.500",
            "-",
            "0.667",
            "-",
            "100.00%",
            "1.000",
        ]

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
        toy_workspace.ledger().record_decision(int(ids[2]), "artefact", reviewer="ana")
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
        assert (table.loc[2, "decision"], table.loc[2, "decision_label"]) == ("artefact", "")
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
        catalog = _with_features(toy_workspace)
        summary = embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120)
        stored = toy_workspace.catalog().run("r1").read("embedding")
        assert (summary.n_embedded, summary.n_fitted, summary.n_placed) == (199, 120, 79)
        assert stored.dtype == np.float32
        assert np.isfinite(stored[catalog.ok()]).all()
        assert np.isnan(stored[~catalog.ok()]).all()

    def test_blocks_give_the_one_block_embedding(self, toy_workspace):
        _with_features(toy_workspace)
        embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120)
        whole = toy_workspace.catalog().run("r1").read("embedding")
        embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120, block_rows=32)
        blocks = toy_workspace.catalog().run("r1").read("embedding")
        # The fitted points are the same; placed points feel each other a little in openTSNE.
        np.testing.assert_allclose(blocks, whole, atol=1e-3)

    def test_add_places_only_the_new_rows_into_the_saved_map(self, toy_workspace):
        catalog = _with_features(toy_workspace)
        embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120)
        run = toy_workspace.catalog().run("r1")
        before = run.read("embedding")
        with (toy_workspace.model_dir("r1") / MAP_FILE).open("rb") as saved:
            fitted = pickle.load(saved).rows_  # noqa: S301 - written by embed_run
        dropped = np.setdiff1d(np.flatnonzero(catalog.ok()), fitted)[[3, 40, 70]]
        partial = before.copy()
        partial[dropped] = np.nan
        run.write("embedding", partial)
        with mock.patch("galcore.embedding.TSNEEmbedder.fit") as fit:
            summary = embed_run(toy_workspace.root, "r1", add=True, block_rows=64)
        fit.assert_not_called()
        assert (summary.n_placed, summary.n_fitted) == (3, 0)
        after = run.read("embedding")
        kept = np.setdiff1d(np.flatnonzero(catalog.ok()), dropped)
        np.testing.assert_array_equal(after[kept], before[kept])
        np.testing.assert_allclose(after[dropped], before[dropped], atol=1e-4)

    def test_add_without_a_map_says_what_to_run(self, toy_workspace):
        _with_features(toy_workspace)
        with pytest.raises(TrainingError, match="has no t-SNE map yet; run 'galcore embed'"):
            embed_run(toy_workspace.root, "r1", add=True)

    def test_resume_keeps_the_map_and_the_written_blocks(self, toy_workspace):
        _with_features(toy_workspace)
        embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120, block_rows=64)
        whole = toy_workspace.catalog().run("r1").read("embedding")
        with block_write_fails_at(64):
            embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120, block_rows=64)
        with (
            mock.patch("galcore.embedding.TSNEEmbedder.fit") as fit,
            mock.patch("galcore.embedding.place_block", wraps=place_block) as task,
        ):
            embed_run(toy_workspace.root, "r1", perplexity=10, fit_size=120, block_rows=64,
                      resume=True)  # fmt: skip
        fit.assert_not_called()
        assert sorted(call.args[2] for call in task.call_args_list) == [64, 128, 192]
        np.testing.assert_array_equal(toy_workspace.catalog().run("r1").read("embedding"), whole)


def _with_features(workspace):
    """Give the toy catalog a run r1 with random 16-d features (NaN where not curated)."""
    catalog = workspace.catalog()
    run = catalog.create_run("r1")
    rng = np.random.default_rng(1)
    features = rng.normal(0, 1, (len(catalog), 16)).astype(np.float32)
    features[~catalog.ok()] = np.nan
    run.write("features", features)
    run.write("probs", np.where(catalog.ok()[:, None], 0.5, np.nan).repeat(2, axis=1))
    return catalog

"""The metrics tab: Table II, ROC and Fig. 6 of a run and its parent, from stored test metrics."""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from dashboard.session import ReviewSession
from dashboard.views import MetricsView, make_metrics_figure, make_metrics_table
from dashboard.views.metrics import TABLE_COLUMNS, no_metrics_message, runs_to_compare
from galcore.evaluation import classification_metrics, evaluate_run
from store import Workspace, set_mask


@pytest.fixture
def evaluated(review_workspace: Workspace) -> Workspace:
    """The review workspace with r1 a child of r0, both evaluated."""
    review_workspace.catalog().run("r1").update_attrs(parent="r0")
    for run in ("r0", "r1"):
        evaluate_run(review_workspace.root, run)
    return review_workspace


def _view(workspace: Workspace, run: str = "r1") -> MetricsView:
    return MetricsView(session=ReviewSession(workspace=workspace, run=run))


def _alerts(content: pn.Column) -> list[str]:
    return [pane.object for pane in content if isinstance(pane, pn.pane.Alert)]


def _tables(content: pn.Column) -> list[pn.widgets.Tabulator]:
    return [pane for pane in content if isinstance(pane, pn.widgets.Tabulator)]


class TestMakeMetricsTable:
    def test_rows_are_the_stored_metrics_of_each_run(self, evaluated):
        catalog = evaluated.catalog()
        stored = {run: catalog.run(run).attrs["test_metrics"] for run in ("r1", "r0")}
        table = make_metrics_table(stored)
        assert list(table.columns) == ["run", "test set", *TABLE_COLUMNS]
        assert table[["run", "test set"]].values.tolist() == [
            ["r1", "HP SDSS"],
            ["r0", "HP SDSS"],
        ]
        for (_, row), run in zip(table.iterrows(), ("r1", "r0"), strict=True):
            metrics = stored[run]["hp_test/sdss"]
            assert row["n"] == metrics["n"]
            assert row["accuracy"] == metrics["accuracy"]
            assert row["FPR"] == metrics["fpr"]
            assert row["AUC"] == metrics["auc"]
            assert row["top 50% F1"] == metrics["top50"]["f1"]

    def test_the_table_agrees_with_the_predictions(self, evaluated):
        catalog = evaluated.catalog()
        rows = set_mask(catalog.column("sets"), "hp_test") & (catalog.column("survey") == 0)
        rows &= catalog.ok()
        labels, probs = catalog.column("label")[rows], catalog.run("r1").read("probs")[rows]
        table = make_metrics_table({"r1": catalog.run("r1").attrs["test_metrics"]})
        assert table.loc[0, "n"] == rows.sum()
        assert table.loc[0, "accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == labels))

    def test_rows_of_a_test_set_follow_each_other_and_undefined_values_are_nan(self):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 2, 40)
        spiral = rng.uniform(size=40)
        metrics = classification_metrics(labels, np.c_[1 - spiral, spiral])
        one_class = classification_metrics(np.zeros(4, int), np.tile([0.9, 0.1], (4, 1)))
        table = make_metrics_table(
            {
                "r2": {"hp_test/des": metrics, "fo_test/des": one_class},
                "r1": {"hp_test/des": metrics},
            }
        )
        assert table[["run", "test set"]].values.tolist() == [
            ["r2", "HP DES"],
            ["r1", "HP DES"],
            ["r2", "FO DES"],
        ]
        assert math.isnan(table.loc[2, "AUC"])
        assert math.isnan(table.loc[2, "precision"])
        assert table.loc[2, "accuracy"] == 1.0

    def test_no_runs_make_an_empty_table(self):
        assert make_metrics_table({}).empty


class TestMakeMetricsFigure:
    def test_roc_and_confidence_curves_of_both_runs(self, evaluated):
        catalog = evaluated.catalog()
        stored = {run: catalog.run(run).attrs["test_metrics"] for run in ("r1", "r0")}
        figure = make_metrics_figure(stored)
        assert isinstance(figure, hv.Layout)
        roc, accuracy, f1 = figure
        auc = stored["r1"]["hp_test/sdss"]["auc"]
        assert f"r1 HP SDSS (AUC {auc:.3f})" in [curve.label for curve in roc]
        for panel in (accuracy, f1):
            assert [curve.label for curve in panel] == ["r1 HP SDSS", "r0 HP SDSS"]


class TestRunsToCompare:
    def test_the_run_then_its_parent(self, evaluated):
        assert runs_to_compare(evaluated, "r1") == ["r1", "r0"]

    def test_a_run_without_parent_alone(self, evaluated):
        assert runs_to_compare(evaluated, "r0") == ["r0"]

    def test_a_parent_missing_from_the_catalog_is_left_out(self, evaluated):
        evaluated.catalog().run("r1").update_attrs(parent="gone")
        assert runs_to_compare(evaluated, "r1") == ["r1"]


class TestMetricsView:
    def test_the_run_and_its_parent_side_by_side(self, evaluated):
        content = _view(evaluated)._content()
        (table,) = _tables(content)
        assert table.value["run"].tolist() == ["r1", "r0"]
        assert _alerts(content) == []
        (figure,) = [pane for pane in content if isinstance(pane, pn.pane.HoloViews)]
        assert isinstance(figure.object, hv.Layout)

    def test_follows_the_stores_run(self, evaluated):
        view = _view(evaluated)
        view.session.run = "r0"
        (table,) = _tables(view._content())
        assert table.value["run"].tolist() == ["r0"]

    def test_an_unevaluated_run_gets_the_command_to_run(self, review_workspace):
        content = _view(review_workspace)._content()
        root = review_workspace.root
        assert _alerts(content) == [
            f"run r1 has no test metrics: run galcore evaluate --workspace {root} --run r1"
        ]
        assert _tables(content) == []

    def test_an_unevaluated_parent_gets_its_message_beside_the_runs_table(self, review_workspace):
        review_workspace.catalog().run("r1").update_attrs(parent="r0")
        evaluate_run(review_workspace.root, "r1")
        content = _view(review_workspace)._content()
        assert _alerts(content) == [no_metrics_message(review_workspace, "r0")]
        (table,) = _tables(content)
        assert table.value["run"].tolist() == ["r1"]

    def test_renders_without_a_server(self, evaluated):
        assert pn.panel(_view(evaluated)).get_root() is not None

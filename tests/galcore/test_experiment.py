"""`galcore experiment`: models over seeds, one recursion each, statistics, resuming."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest

from galcore.cli.experiment import experiment_command, experiment_command_parser
from galcore.errors import TrainingError
from galcore.experiment import ExperimentConfig, Model, format_summary, run_experiment
from galcore.experiment import _statistics as statistics
from tests.conftest import make_toy_workspace


def _metrics(accuracy: float, auc: float | None) -> dict:
    """Metrics of one test set as `evaluate_run` stores them, with a few values set."""
    rates = {"n": 10, "accuracy": accuracy, "precision": 1.0, "recall": 0.5, "fpr": 0.0, "f1": 0.6}
    return rates | {
        "auc": auc,
        "top50": dict(rates),
        "roc": {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, accuracy, 1.0], "threshold": [2, 0.5, 0]},
        "confidence_curve": {
            "fraction": [0.5, 1.0],
            "accuracy": [1.0, accuracy],
            "f1": [None, 0.6],
        },
    }


class TestStatistics:
    def test_each_statistic_over_the_seeds(self):
        runs = [
            {"backbone": "compact", "recursion": 0, "metrics": {"hp_test/des": _metrics(a, u)}}
            for a, u in [(0.9, 0.95), (0.8, None), (1.0, 0.99)]
        ]
        result = statistics(runs)
        pick = {name: result[name]["compact"]["0"]["hp_test/des"] for name in result}
        assert pick["mean"]["accuracy"] == pytest.approx(0.9)
        assert pick["std"]["accuracy"] == pytest.approx(np.std([0.9, 0.8, 1.0], ddof=1))
        assert (pick["min"]["accuracy"], pick["median"]["accuracy"], pick["max"]["accuracy"]) == (
            pytest.approx(0.8),
            pytest.approx(0.9),
            pytest.approx(1.0),
        )
        assert pick["mean"]["auc"] == pytest.approx(0.97)  # the undefined AUC is left out
        assert pick["mean"]["confidence_curve"]["accuracy"] == pytest.approx([1.0, 0.9])
        assert pick["mean"]["confidence_curve"]["f1"] == [None, pytest.approx(0.6)]
        assert pick["mean"]["top50"]["accuracy"] == pytest.approx(0.9)
        roc = pick["mean"]["roc"]
        assert roc["tpr"][50] == pytest.approx(0.9)  # the mean of the curves at FPR 0.5
        assert "roc" not in pick["std"]

    def test_groups_by_backbone_and_recursion(self):
        runs = [
            {"backbone": b, "recursion": r, "metrics": {"fo_test/des": _metrics(a, 0.9)}}
            for b, r, a in [("compact", 0, 0.8), ("compact", 1, 0.9), ("vgg16", 0, 0.7)]
        ]
        mean = statistics(runs)["mean"]
        assert mean["compact"]["1"]["fo_test/des"]["accuracy"] == pytest.approx(0.9)
        assert mean["vgg16"]["0"]["fo_test/des"]["accuracy"] == 0.7
        assert statistics(runs)["std"]["compact"]["0"]["fo_test/des"]["accuracy"] == 0.0


class TestConfig:
    def test_run_names(self):
        model = Model("paper", "xception", 3)
        assert (model.run(), model.run(1)) == ("paper-xception-s3", "paper-xception-s3-r1")

    def test_models_default_to_the_profiles_backbone(self, tmp_path):
        config = ExperimentConfig(tmp_path, "e", seeds=2, profile="demo")
        assert [m.run() for m in config.models()] == ["e-compact-s0", "e-compact-s1"]

    @pytest.mark.parametrize(
        ("changes", "match"),
        [({"name": "../x"}, "experiment name"), ({"seeds": 0}, "seeds=0"), ({"top": -1}, "top=-1")],
    )
    def test_bad_values(self, tmp_path, changes, match):
        with pytest.raises(TrainingError, match=match):
            ExperimentConfig(tmp_path, **({"name": "e"} | changes))

    @pytest.mark.parametrize("name", ["e.1", "e" * 50])
    def test_names_whose_runs_the_catalog_refuses(self, tmp_path, name):
        """'.' and names whose runs pass 64 characters break the run-name rule."""
        with pytest.raises(TrainingError, match="gives a bad run name: run name .* not allowed"):
            ExperimentConfig(tmp_path, name, seeds=10, backbones=("xception",), recurse=True)

    def test_the_longest_name_whose_runs_all_fit(self, tmp_path):
        name = "e" * (64 - len("-xception-s9-r1"))
        config = ExperimentConfig(tmp_path, name, seeds=10, backbones=("xception",))
        assert len(config.models()[-1].run(1)) == 64


class TestCommand:
    def test_arguments(self, tmp_path, capsys):
        argv = ["--workspace", str(tmp_path), "--name", "bb", "--seeds", "3", "--recurse"]
        argv += ["--top", "50", "--backbone", "compact", "vgg16", "--epochs", "1,2,3"]
        argv += ["--weights", "xception_notop.h5"]
        args = experiment_command_parser().parse_args(argv)
        summary = {"name": "bb", "seeds": 3, "profile": "demo", "mean": {}, "std": {}}
        with mock.patch("galcore.experiment.run_experiment", return_value=summary) as run:
            assert experiment_command(args) == 0
        expected = ExperimentConfig(
            tmp_path,
            "bb",
            seeds=3,
            profile="demo",
            backbones=("compact", "vgg16"),
            recurse=True,
            top=50,
            epochs=(1, 2, 3),
            weights="xception_notop.h5",
        )
        run.assert_called_once_with(expected)
        assert "summary.json" in capsys.readouterr().out


def test_the_weights_reach_every_model(tmp_path):
    workspace = make_toy_workspace(tmp_path / "ws", n=60)
    config = ExperimentConfig(workspace.root, "w", seeds=1, profile="test", weights="w.h5")
    with (
        mock.patch("galcore.training.train", side_effect=RuntimeError("stop")) as train,
        pytest.raises(RuntimeError, match="stop"),
    ):
        run_experiment(config)
    (trained,), _ = train.call_args
    assert trained.profile.weights == "w.h5"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_an_experiment_trains_summarises_and_resumes(tmp_path):
    workspace = make_toy_workspace(tmp_path / "ws", n=400)
    config = ExperimentConfig(workspace.root, "t", seeds=2, profile="test", recurse=True, top=5)
    summary = run_experiment(config)

    on_disk = json.loads((config.folder / "summary.json").read_text())
    assert on_disk["runs"] == summary["runs"]
    names = sorted(entry["run"] for entry in summary["runs"])
    assert names == ["t-compact-s0", "t-compact-s0-r1", "t-compact-s1", "t-compact-s1-r1"]
    catalog = workspace.catalog()
    for entry in summary["runs"]:
        attrs = catalog.run(entry["run"]).attrs
        assert entry["metrics"] == attrs["test_metrics"]
        assert attrs["config"]["seed"] == entry["seed"]
    assert catalog.run("t-compact-s1-r1").attrs["parent"] == "t-compact-s1"
    assert 0 < catalog.run("t-compact-s1-r1").attrs["n_pseudo"] <= 10  # top 5 per class
    accuracies = [
        e["metrics"]["hp_test/sdss"]["accuracy"] for e in summary["runs"] if e["recursion"]
    ]
    assert summary["mean"]["compact"]["1"]["hp_test/sdss"]["accuracy"] == pytest.approx(
        np.mean(accuracies)
    )
    figures = sorted(p.name for p in (config.folder / "figures").iterdir())
    assert figures == [
        "compact-confidence.html",
        "compact-confidence.png",
        "roc-fo.html",
        "roc-fo.png",
    ]
    assert "HP SDSS" in format_summary(summary)

    # Run again: nothing is trained, predicted or evaluated twice.
    with (
        mock.patch("galcore.training.train", side_effect=AssertionError("trained again")),
        mock.patch("galcore.inference.predict", side_effect=AssertionError("predicted again")),
        mock.patch("galcore.evaluation.evaluate_run", side_effect=AssertionError("evaluated")),
    ):
        assert run_experiment(config)["runs"] == summary["runs"]

    # A training that was killed is continued, and the experiment completed.
    catalog.run("t-compact-s1-r1").update_attrs(status="training")
    catalog.run("t-compact-s1-r1").update_attrs(test_metrics=None)
    resumed = run_experiment(config)
    assert catalog.run("t-compact-s1-r1").attrs["status"] == "trained"
    assert len(resumed["runs"]) == 4

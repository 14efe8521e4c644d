"""Figures of stored metrics: ROC curves and accuracy / F1 against the fraction kept."""

import holoviews as hv
import numpy as np

from galcore.evaluation import classification_metrics
from galcore.plots import confidence_plot, roc_plot, write_figures


def _metrics(seed, sets=("hp_test/sdss", "hp_test/des", "fo_test/sdss", "fo_test/des")):
    rng = np.random.default_rng(seed)
    metrics = {}
    for name in sets:
        labels = rng.integers(0, 2, 300)
        spiral = np.clip(labels * 0.6 + rng.normal(0.2, 0.25, 300), 0, 1)
        metrics[name] = classification_metrics(labels, np.c_[1 - spiral, spiral])
    return metrics


def _colour(element, backend):
    return hv.Store.lookup_options(backend, element, "style").kwargs["color"]


class TestRocPlot:
    def test_one_curve_per_set_with_its_auc_and_a_chance_line(self):
        metrics = _metrics(0)
        overlay = roc_plot(metrics)
        chance, *curves = overlay
        assert chance.label == "chance"
        assert [curve.label for curve in curves] == [
            f"{name} (AUC {metrics[key]['auc']:.3f})"
            for name, key in zip(["HP SDSS", "HP DES", "FO SDSS", "FO DES"], metrics, strict=True)
        ]
        fo_des = metrics["fo_test/des"]["roc"]
        np.testing.assert_array_equal(curves[3].dimension_values("fpr"), fo_des["fpr"])
        np.testing.assert_array_equal(curves[3].dimension_values("tpr"), fo_des["tpr"])
        assert curves[3].vdims == ["tpr", "threshold"]  # the threshold shows on hover

    def test_several_runs_side_by_side_on_chosen_sets(self):
        runs = {"xception": _metrics(1), "compact": _metrics(2)}
        overlay = roc_plot(runs, sets=["fo_test/sdss", "fo_test/des"])
        labels = [curve.label.split(" (AUC")[0] for curve in overlay][1:]
        assert labels == [
            "xception FO SDSS",
            "xception FO DES",
            "compact FO SDSS",
            "compact FO DES",
        ]
        colours = [_colour(curve, "bokeh") for curve in overlay][1:]
        assert len(set(colours)) == 4
        assert [_colour(curve, "matplotlib") for curve in overlay][1:] == colours

    def test_a_one_class_set_has_no_curve(self):
        metrics = _metrics(3, sets=["hp_test/sdss"])
        metrics["hp_test/des"] = classification_metrics(np.zeros(4), np.full((4, 2), 0.5))
        assert [curve.label.split(" (")[0] for curve in roc_plot(metrics)] == ["chance", "HP SDSS"]


class TestConfidencePlot:
    def test_accuracy_and_f1_panels_with_the_colours_of_the_roc_plot(self):
        metrics = _metrics(4)
        accuracy, f1 = confidence_plot(metrics)
        curve = metrics["fo_test/sdss"]["confidence_curve"]
        assert [c.label for c in accuracy] == ["HP SDSS", "HP DES", "FO SDSS", "FO DES"]
        np.testing.assert_array_equal(
            accuracy.get(2).dimension_values("fraction"), curve["fraction"]
        )
        np.testing.assert_array_equal(
            accuracy.get(2).dimension_values("accuracy"), curve["accuracy"]
        )
        np.testing.assert_array_equal(f1.get(2).dimension_values("f1"), curve["f1"])
        roc_colours = [_colour(c, "bokeh") for c in roc_plot(metrics)][1:]
        assert [_colour(c, "bokeh") for c in f1] == roc_colours

    def test_undefined_points_are_left_out(self):
        labels = np.array([1, 1, 0, 0, 0, 0])
        spiral = np.array([0.1, 0.6, 0.05, 0.15, 0.2, 0.3])  # the most confident are ellipticals
        metrics = {"fo_test/des": classification_metrics(labels, np.c_[1 - spiral, spiral])}
        stored = metrics["fo_test/des"]["confidence_curve"]["f1"]
        assert None in stored
        (f1,) = confidence_plot(metrics)[1]
        assert len(f1) == sum(value is not None for value in stored)
        assert np.isfinite(f1.dimension_values("f1")).all()


def test_write_figures_writes_html_and_png_of_each(tmp_path):
    folder = tmp_path / "new" / "figures"
    paths = write_figures({"roc": roc_plot(_metrics(5, sets=["fo_test/des"]))}, folder)
    assert paths == [folder / "roc.html", folder / "roc.png"]
    assert all(path.stat().st_size > 1000 for path in paths)
    assert paths[1].read_bytes().startswith(b"\x89PNG")

"""Figures of the test metrics that `galcore evaluate` stores: ROC (paper Fig. 10) and Fig. 6.

Each function takes the metrics of one run (``{"fo_test/des": {...}, ...}``, as
`galcore.evaluation.evaluate_run` returns them) or of several runs by label (``{"xception":
run_metrics, "cnn": run_metrics}``) and draws one curve per run and test set. HoloViews and
matplotlib are imported here, on first use; matplotlib draws with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import cycle
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from galcore.evaluation import set_label

if TYPE_CHECKING:
    import holoviews as hv

__all__ = ["confidence_plot", "roc_plot", "write_figures"]

Metrics = Mapping[str, Mapping[str, Any]]
"""The metrics of one run: test set key -> metrics of that set."""

_BACKEND_OPTIONS = {
    "bokeh": {"width": 480, "height": 440, "click_policy": "hide"},
    "matplotlib": {"fig_size": 130, "aspect": 1.1},
}
_DASHED = {"bokeh": {"line_dash": "dashed"}, "matplotlib": {"linestyle": "--"}}
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
"""One colour per run and test set, in the same order in every figure (Tableau 10)."""


def roc_plot(
    metrics: Metrics | Mapping[str, Metrics], sets: Sequence[str] | None = None
) -> hv.Overlay:
    """Return the ROC curves of the test sets, with the AUC of each in the legend.

    Parameters
    ----------
    metrics
        The metrics of one run, or ``{label: metrics}`` of several runs.
    sets
        Test set keys to draw (``"fo_test/des"``, ...); all of them by default. Sets without a
        curve (one class only) are left out.
    """
    hv = _holoviews()
    chance = hv.Curve(([0, 1], [0, 1]), "fpr", "tpr", label="chance")
    curves = [_style(chance, "gray", dashed=True)]
    for label, m, colour in _curves(metrics, sets):
        roc = m["roc"]
        if roc["fpr"]:
            vdims = ["tpr", "threshold"] if "threshold" in roc else ["tpr"]  # averages have none
            data = tuple(roc[name] for name in ("fpr", *vdims))
            legend = f"{label} (AUC {m['auc']:.3f})"
            curves.append(_style(hv.Curve(data, "fpr", vdims, label=legend), colour))
    return _frame(
        hv.Overlay(curves),
        legend="bottom_right",
        title="ROC curves",
        xlabel="false-positive rate",
        ylabel="true-positive rate",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )


def confidence_plot(
    metrics: Metrics | Mapping[str, Metrics], sets: Sequence[str] | None = None
) -> hv.Layout:
    """Return accuracy and F1 against the fraction of most confident predictions kept.

    Parameters
    ----------
    metrics
        The metrics of one run, or ``{label: metrics}`` of several runs.
    sets
        Test set keys to draw; all of them by default.
    """
    hv = _holoviews()
    panels = []
    for score, title in (("accuracy", "Accuracy"), ("f1", "F1 score")):
        curves = [
            _style(hv.Curve(points, "fraction", score, label=label), colour)
            for label, m, colour in _curves(metrics, sets)
            if (points := _defined(m["confidence_curve"], score))[0]
        ]
        xlabel = "fraction of most confident kept"
        panels.append(
            _frame(
                hv.Overlay(curves), legend="bottom_left", title=title, xlabel=xlabel, ylabel=title
            )
        )
    return hv.Layout(panels).cols(2).opts(sublabel_format="", backend="matplotlib")


def write_figures(figures: Mapping[str, hv.core.Dimensioned], folder: Path) -> list[Path]:
    """Write each figure as interactive HTML (Bokeh, self-contained) and as PNG (matplotlib).

    Parameters
    ----------
    figures
        File stem -> HoloViews object, e.g. ``{"roc": roc_plot(metrics)}``.
    folder
        Where to write ``<stem>.html`` and ``<stem>.png``; created if needed.

    Returns
    -------
    list of Path
        The files written.
    """
    hv = _holoviews()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, figure in figures.items():
        html, png = folder / f"{stem}.html", folder / f"{stem}.png"
        hv.save(figure, html, backend="bokeh", resources="inline", title=stem)
        hv.save(figure, png, backend="matplotlib", dpi=120)
        written += [html, png]
    return written


def _holoviews() -> ModuleType:
    """Import HoloViews with its Bokeh and matplotlib (Agg) backends loaded."""
    import matplotlib as mpl

    mpl.use("Agg")
    import holoviews as hv

    if not {"bokeh", "matplotlib"} <= set(hv.Store.renderers):
        import holoviews.plotting.bokeh
        import holoviews.plotting.mpl

        hv.Store.set_current_backend("bokeh")
    return hv


def _curves(
    metrics: Metrics | Mapping[str, Metrics], sets: Sequence[str] | None
) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """Yield legend label, metrics and colour of every run and test set to draw, in order."""
    one_run = all("roc" in value for value in metrics.values())
    runs = {"": metrics} if one_run else metrics
    chosen = (
        (f"{run} {set_label(name)}".strip(), run_metrics[name])
        for run, run_metrics in runs.items()
        for name in sets or run_metrics
        if name in run_metrics
    )
    for (label, set_metrics), colour in zip(chosen, cycle(_COLOURS), strict=False):
        yield label, set_metrics, colour


def _defined(curve: Mapping[str, list], score: str) -> tuple[list[float], list[float]]:
    """Return the (fraction, score) points of a confidence curve where the score is defined."""
    points = [(f, s) for f, s in zip(curve["fraction"], curve[score], strict=True) if s is not None]
    return [f for f, _ in points], [s for _, s in points]


def _style(curve: hv.Curve, colour: str, *, dashed: bool = False) -> hv.Curve:
    """Return the curve with its colour and line options for both backends."""
    import holoviews as hv

    bokeh = {"color": colour, "line_width": 2, "tools": ["hover"]}
    mpl = {"color": colour, "linewidth": 1.5}
    if dashed:
        bokeh, mpl = bokeh | _DASHED["bokeh"], mpl | _DASHED["matplotlib"]
    return curve.opts(
        hv.opts.Curve(**bokeh, backend="bokeh"), hv.opts.Curve(**mpl, backend="matplotlib")
    )


def _frame(overlay: hv.Overlay, legend: str, **options: Any) -> hv.Overlay:  # noqa: ANN401
    """Return the overlay with its titles, limits, grid and legend for both backends."""
    import holoviews as hv

    common = {"show_grid": True, "legend_position": legend, **options}
    return overlay.opts(
        hv.opts.Overlay(**common, **_BACKEND_OPTIONS["bokeh"], backend="bokeh"),
        hv.opts.Overlay(**common, **_BACKEND_OPTIONS["matplotlib"], backend="matplotlib"),
    )

"""Experiments as in the paper: K models with different seeds, each optionally recursed once.

`run_experiment` trains, predicts and evaluates one run per backbone and seed (and, with
``recurse``, one recursive run from each), skipping every step that is done already, so that
running it again resumes where it stopped (a killed training continues from its last epoch).
`summarise` then averages the paper's metrics over the seeds (mean, std, min, median, max)
for the 0th and the 1st recursion, into ``<workspace>/experiments/<name>/summary.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import galcore
from galcore.errors import TrainingError
from galcore.evaluation import set_label
from store import RunNameError, RunStatus, StoreNotFoundError, Workspace, check_run_name
from store.selection import DEFAULT_TOP

__all__ = ["ExperimentConfig", "Model", "format_summary", "run_experiment", "summarise"]

logger = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
_SCALARS = ("n", "accuracy", "precision", "recall", "fpr", "f1", "auc")
_FPR_GRID = np.linspace(0.0, 1.0, 101)
_STATISTICS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": np.mean,
    "std": lambda values: np.std(values, ddof=1) if len(values) > 1 else 0.0,
    "min": np.min,
    "median": np.median,
    "max": np.max,
}


@dataclass(frozen=True)
class ExperimentConfig:
    """What an experiment trains.

    Parameters
    ----------
    workspace
        The workspace with the catalog.
    name
        The experiment's name: its runs are ``<name>-<backbone>-s<seed>`` (and ``...-r1``),
        names that must follow the run-name rule (`store.runs`).
    seeds
        Models per backbone, with seeds 0 to ``seeds - 1``.
    profile
        Training profile of every model.
    backbones
        Backbones to compare (None: the profile's own).
    recurse
        Follow every model with one recursion (`galcore.recursion.recurse`).
    top
        Confident unlabelled predictions per class that join the recursion's training set.
    epochs
        Epochs per stage, replacing the profile's.
    weights
        Backbone weights, replacing the profile's: ``"imagenet"``, ``"none"`` or an ``.h5``
        file (recursions start from them too).
    """

    workspace: Path
    name: str
    seeds: int = 10
    profile: str = "demo"
    backbones: tuple[str | None, ...] = (None,)
    recurse: bool = False
    top: int = DEFAULT_TOP
    epochs: tuple[int, ...] | None = None
    weights: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "workspace", Path(self.workspace))
        if self.seeds < 1 or self.top < 0:
            msg = f"seeds={self.seeds} must be >= 1 and top={self.top} >= 0"
            raise TrainingError(msg)
        try:
            for model in self.models():
                check_run_name(model.run(1))
        except RunNameError as error:
            msg = f"experiment name {self.name!r} gives a bad run name: {error}"
            raise TrainingError(msg) from None

    @property
    def folder(self) -> Path:
        """Where the summary and the figures go."""
        return self.workspace / "experiments" / self.name

    def models(self) -> list[Model]:
        """Every model of the experiment, backbone by backbone, seed by seed."""
        from galcore.training import get_profile

        backbones = [b or get_profile(self.profile).backbone for b in self.backbones]
        return [
            Model(self.name, backbone, seed) for backbone in backbones for seed in range(self.seeds)
        ]


@dataclass(frozen=True)
class Model:
    """One model of an experiment: its backbone and seed, and the names of its runs."""

    experiment: str
    backbone: str
    seed: int

    def run(self, recursion: int = 0) -> str:
        """Return the name of the model's run at `recursion` (0 or 1)."""
        base = f"{self.experiment}-{self.backbone}-s{self.seed}"
        return base if recursion == 0 else f"{base}-r{recursion}"


def run_experiment(config: ExperimentConfig) -> dict[str, Any]:
    """Train, predict and evaluate every model of the experiment, then write its summary.

    Steps already done (a trained run, its predictions, its metrics) are skipped; an unfinished
    training continues from its last finished epoch.

    Parameters
    ----------
    config
        The experiment.

    Returns
    -------
    dict
        The summary (`summarise`), also written to ``<folder>/summary.json``, with figures in
        ``<folder>/figures``.
    """
    models = config.models()
    levels = (0, 1) if config.recurse else (0,)
    began = time.monotonic()
    for number, model in enumerate(models, start=1):
        for recursion in levels:
            logger.info(
                "experiment %s: model %d of %d (%s, seed %d), recursion %d",
                config.name,
                number,
                len(models),
                model.backbone,
                model.seed,
                recursion,
            )
            trained = _train(config, model, recursion)
            _predict_and_evaluate(config.workspace, model.run(recursion), again=trained)
    summary = summarise(config)
    summary["wall_time_s"] = round(time.monotonic() - began, 1)
    _write_summary(config, summary)
    return summary


def _train(config: ExperimentConfig, model: Model, recursion: int) -> bool:
    """Train the model's run at `recursion`, continue it when unfinished, skip it when done.

    Returns whether it trained.
    """
    from galcore.recursion import recurse
    from galcore.training import MIN_IMAGE_SIZE, TrainConfig, get_profile, train

    space, name = Workspace(config.workspace), model.run(recursion)
    status = _status(space, name)
    if status == RunStatus.TRAINED:
        return False
    if status is not None:
        logger.info("run %s stopped while training (%s); continuing it", name, status)
        train(TrainConfig.of_run(config.workspace, name), resume=True)
    elif recursion == 0:
        size = max(get_profile(config.profile).image_size, MIN_IMAGE_SIZE[model.backbone])
        train(
            TrainConfig.from_profile(
                config.workspace,
                name,
                profile=config.profile,
                backbone=model.backbone,
                epochs=config.epochs,
                weights=config.weights,
                image_size=size,
                seed=model.seed,
            )
        )
    else:
        recurse(config.workspace, model.run(recursion - 1), name, top=config.top, seed=model.seed)
    return True


def _status(space: Workspace, run: str) -> str | None:
    """Return the run's status, or None when there is no such run."""
    try:
        return space.catalog(mode="r").run(run).attrs.get("status")
    except StoreNotFoundError:
        return None


def _predict_and_evaluate(workspace: Path, run: str, *, again: bool) -> None:
    """Predict and evaluate the run, unless it holds both already and `again` is False."""
    from galcore.evaluation import evaluate_run
    from galcore.inference import predict

    stored = Workspace(workspace).catalog(mode="r").run(run)
    if again or not stored.has("probs"):
        predict(workspace, run)
    metrics = stored.attrs.get("test_metrics") or {}
    if again or "roc" not in next(iter(metrics.values()), {}):
        evaluate_run(workspace, run)


def summarise(config: ExperimentConfig) -> dict[str, Any]:
    """Return the per-model metrics and their statistics over the seeds.

    Parameters
    ----------
    config
        The experiment; its evaluated runs are read from the catalog.

    Returns
    -------
    dict
        ``runs``: one entry per evaluated run (backbone, seed, recursion, run, training time,
        training-set size and sources, Table II metrics with the Fig. 6 curve); ``mean``,
        ``std``, ``min``, ``median``, ``max``: backbone -> recursion (``"0"``, ``"1"``) -> test
        set -> every scalar metric (``top50`` nested), and for ``mean`` and ``std`` the
        ``confidence_curve`` too, and for ``mean`` the ROC averaged on a common FPR grid.
    """
    catalog = Workspace(config.workspace).catalog(mode="r")
    done = set(catalog.runs())
    runs = []
    for model in config.models():
        for recursion in (0, 1):
            name = model.run(recursion)
            if name not in done or not catalog.run(name).attrs.get("test_metrics"):
                continue
            attrs = catalog.run(name).attrs
            runs.append(
                {
                    "backbone": model.backbone,
                    "seed": model.seed,
                    "recursion": recursion,
                    "run": name,
                    "train_seconds": attrs.get("wall_time_s"),
                    "n_train": attrs.get("n_train"),
                    "n_pseudo": attrs.get("n_pseudo"),
                    "metrics": attrs["test_metrics"],
                }
            )
    summary = {
        "name": config.name,
        "profile": config.profile,
        "seeds": config.seeds,
        "recurse": config.recurse,
        "top": config.top,
        "code_version": galcore.__version__,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
    }
    return summary | _statistics(runs)


def _statistics(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return each statistic of every metric, per backbone and recursion."""
    statistics: dict[str, Any] = {name: {} for name in _STATISTICS}
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for entry in runs:
        groups.setdefault((entry["backbone"], entry["recursion"]), []).append(entry["metrics"])
    for (backbone, recursion), metrics in groups.items():
        for name, function in _STATISTICS.items():
            per_set = {
                key: _set_statistic([m[key] for m in metrics if key in m], function, name)
                for key in sorted({key for m in metrics for key in m})
            }
            statistics[name].setdefault(backbone, {})[str(recursion)] = per_set
    return statistics


def _set_statistic(
    metrics: list[dict[str, Any]], function: Callable[[np.ndarray], float], name: str
) -> dict[str, Any]:
    """Return one statistic of one test set's metrics over several runs."""

    def over(values: Iterator[float | None]) -> float | None:
        defined = np.array([v for v in values if v is not None], dtype=float)
        return float(function(defined)) if len(defined) else None

    result: dict[str, Any] = {k: over(m[k] for m in metrics) for k in _SCALARS}
    result["top50"] = {k: over(m["top50"][k] for m in metrics) for k in _SCALARS if k != "auc"}
    if name in ("mean", "std"):
        curves = [m["confidence_curve"] for m in metrics]
        result["confidence_curve"] = {"fraction": curves[0]["fraction"]} | {
            score: [over(c[score][i] for c in curves) for i in range(len(curves[0]["fraction"]))]
            for score in ("accuracy", "f1")
        }
    if name == "mean":
        tprs = [np.interp(_FPR_GRID, m["roc"]["fpr"], m["roc"]["tpr"]) for m in metrics if m["roc"]]
        result["roc"] = {
            "fpr": _FPR_GRID.tolist() if tprs else [],
            "tpr": np.mean(tprs, axis=0).tolist() if tprs else [],
        }
    return result


def _write_summary(config: ExperimentConfig, summary: dict[str, Any]) -> None:
    """Write the summary (atomically) and its figures."""
    from galcore.plots import confidence_plot, roc_plot, write_figures

    config.folder.mkdir(parents=True, exist_ok=True)
    partial = config.folder / f".{SUMMARY_FILE}.partial"
    partial.write_text(json.dumps(summary, indent=1, allow_nan=False))
    partial.replace(config.folder / SUMMARY_FILE)
    mean = summary["mean"]
    present = {key for levels in mean.values() for sets in levels.values() for key in sets}
    fo_sets = sorted(key for key in present if key.startswith("fo_test/")) or None
    figures = {
        f"{backbone}-confidence": confidence_plot(
            {f"{backbone} r{level}": metrics for level, metrics in levels.items()}, fo_sets
        )
        for backbone, levels in mean.items()
    }
    figures["roc-fo"] = roc_plot({b: levels["0"] for b, levels in mean.items()}, fo_sets)
    written = write_figures(figures, config.folder / "figures")
    logger.info(
        "experiment %s: summary and %d figures in %s", config.name, len(written), config.folder
    )


def format_summary(summary: dict[str, Any]) -> str:
    """Return the summary as a table: per backbone, recursion and test set, mean +- std."""
    columns = ("backbone", "rec", "test set", "accuracy", "min / median / max", "top-50% acc")
    widths = (11, 3, 8, 16, 25, 16, 14, 14)
    rows = [(*columns, "F1", "AUC")]
    for backbone, levels in summary["mean"].items():
        for level, sets in levels.items():
            for key, mean in sets.items():
                std = summary["std"][backbone][level][key]
                spread = [
                    summary[s][backbone][level][key]["accuracy"] for s in ("min", "median", "max")
                ]
                rows.append(
                    (
                        backbone,
                        level,
                        set_label(key),
                        _pm(mean["accuracy"], std["accuracy"], percent=True),
                        " / ".join(_percent(v) for v in spread),
                        _pm(mean["top50"]["accuracy"], std["top50"]["accuracy"], percent=True),
                        _pm(mean["f1"], std["f1"]),
                        _pm(mean["auc"], std["auc"]),
                    )
                )
    lines = [
        "  ".join(
            f"{cell:>{w}}" if i > 2 else f"{cell:<{w}}"
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    title = f"{summary['name']}: {summary['seeds']} seed(s), profile {summary['profile']}"
    return "\n".join([title, *lines])


def _pm(mean: float | None, std: float | None, *, percent: bool = False) -> str:
    """Format mean +- std, as percentages or plain numbers; '-' when undefined."""
    if mean is None:
        return "-"
    scale, unit, digits = (100, "%", 2) if percent else (1, "", 3)
    return f"{mean * scale:.{digits}f} ± {(std or 0) * scale:.{digits}f}{unit}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"

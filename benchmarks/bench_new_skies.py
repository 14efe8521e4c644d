"""How models trained on one sky do on skies they never saw, and how much they lose there.

Usage::

    python benchmarks/bench_new_skies.py --train-workspace ws --runs tl-xception-s0 ... \\
        --sky seed0=ws --sky seed11=ev11 --sky worse=ev11w [--baseline seed11]

Each run of the training workspace is brought into every other workspace with
`galcore.import_run.import_run` (as ``<run>``; skipped when it is there), predicted and evaluated
there, once: a second call only reads the metrics. The table gives, per sky, profile and test
set, the number of galaxies and the accuracy's min / median / max over the runs of that profile
(the runs of one profile are its seeds), then the top-50% accuracy's median and the AUC's; with
``--baseline NAME`` it adds the median change against that sky, run by run (a paired loss on a
sky drawn with the same seed under other conditions).
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from galcore.evaluation import evaluate_run
from galcore.import_run import import_run
from galcore.inference import predict
from store import Workspace

TESTS = ("hp_test/sdss", "hp_test/des", "fo_test/sdss", "fo_test/des")
NAMES = {"hp_test/sdss": "HP SDSS", "hp_test/des": "HP DES", "fo_test/sdss": "FO SDSS"}
NAMES["fo_test/des"] = "FO DES"


def metrics_on(train_workspace: Path, run: str, workspace: Path) -> tuple[str, dict]:
    """Return the run's profile and test metrics on `workspace`'s catalog, computing them once."""
    if workspace.resolve() != train_workspace.resolve():
        catalog = Workspace(workspace).catalog(mode="r")
        if run not in catalog.runs():
            import_run(train_workspace, run, workspace)
    attrs = Workspace(workspace).catalog(mode="r").run(run).attrs
    if not attrs.get("test_metrics"):
        predict(workspace, run)
        evaluate_run(workspace, run)
        attrs = Workspace(workspace).catalog(mode="r").run(run).attrs
    return attrs["profile"], attrs["test_metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-workspace", type=Path, required=True)
    parser.add_argument("--runs", nargs="+", required=True, help="trained runs to compare")
    parser.add_argument(
        "--sky", action="append", required=True, metavar="NAME=WORKSPACE", help="repeatable"
    )
    parser.add_argument("--baseline", help="the sky NAME the others are compared with")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    skies = dict(item.split("=", 1) for item in args.sky)
    accuracy: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    extra: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    sizes: dict[tuple[str, str], int] = {}
    for sky, folder in skies.items():
        for run in args.runs:
            profile, metrics = metrics_on(args.train_workspace, run, Path(folder))
            for test in TESTS:
                if test in metrics:
                    values = metrics[test]
                    accuracy[sky, profile, test][run] = 100 * values["accuracy"]
                    extra[sky, profile, test].append(
                        (100 * values["top50"]["accuracy"], values["auc"])
                    )
                    sizes[sky, test] = values["n"]
    print("| sky | profile | test | n | accuracy min / median / max | top-50% | AUC |", end="")
    print(f" vs {args.baseline} |" if args.baseline else "")
    print("| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if args.baseline else ""))
    for (sky, profile, test), by_run in accuracy.items():
        values = np.array(list(by_run.values()))
        top50, auc = np.median(np.array(extra[sky, profile, test]), axis=0)
        row = (
            f"| {sky} | {profile} | {NAMES[test]} | {sizes[sky, test]} | "
            f"{values.min():.2f}% / {np.median(values):.2f}% / {values.max():.2f}% | "
            f"{top50:.2f}% | {auc:.3f} |"
        )
        if args.baseline:
            base = accuracy.get((args.baseline, profile, test), {})
            paired = [by_run[r] - base[r] for r in by_run if r in base]
            row += f" {np.median(paired):+.2f} |" if paired and sky != args.baseline else " |"
        print(row)


if __name__ == "__main__":
    main()

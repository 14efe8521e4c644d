"""How hard is the sky? A logistic regression on shape and colour against the CNN.

Usage::

    python benchmarks/bench_shape_baseline.py --workspace WS [--run RUN ...]

Measures ellipticity, concentration, size and colour of every curated galaxy
(`galcore.morphometry`), fits a logistic regression on the training set's SDSS galaxies (the
same rows the CNN trains on) and prints its accuracy on each test set next to the accuracy of
each CNN run given (from its stored predictions). On real galaxies such photometric
classifiers reach about 85% (the paper's comparison); a sky on which they do much better gives
the answer away.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from galcore.curation import ColourStretch
from galcore.morphometry import FEATURES, measure_images
from store import Workspace
from store.schema import SURVEYS, set_mask

_TEST_SETS = ("hp_test", "fo_test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True, help="a workspace with a curated catalog")
    parser.add_argument("--run", nargs="*", default=[], help="CNN runs with predictions")
    args = parser.parse_args()
    catalog = Workspace(args.workspace).catalog(mode="r")
    columns = catalog.columns(["label", "sets", "survey"])
    stretch = ColourStretch.recorded(catalog.attrs["curation"]["stretch"])
    rows = {"train": set_mask(columns["sets"], "train") & (columns["label"] >= 0)}
    for name in _TEST_SETS:
        for code, survey in enumerate(SURVEYS):
            rows[f"{name}/{survey}"] = set_mask(columns["sets"], name) & (columns["survey"] == code)
    began = time.perf_counter()
    measured = np.flatnonzero(np.logical_or.reduce(list(rows.values())))
    features = np.full((len(catalog), len(FEATURES)), np.nan)
    for start in range(0, len(measured), 512):
        batch = measured[start : start + 512]
        features[batch] = measure_images(catalog.read_images(batch), stretch=stretch)
    seconds = time.perf_counter() - began
    train = rows.pop("train")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(features[train], columns["label"][train])
    runs = {run: catalog.run(run).read("probs").argmax(axis=1) for run in args.run}
    print(f"{train.sum()} training galaxies, {len(measured)} measured in {seconds:.1f} s")
    coefficients = model[-1].coef_[0]
    print(
        "weights (standardised):",
        ", ".join(f"{f} {w:+.2f}" for f, w in zip(FEATURES, coefficients, strict=True)),
    )
    header = "| test set | n | shape + colour LR |" + "".join(f" CNN {r} |" for r in runs)
    print(header)
    print("|" + " --- |" * (3 + len(runs)))
    for name, mask in rows.items():
        if not mask.any():
            continue
        labels = columns["label"][mask]
        cells = [f"{(model.predict(features[mask]) == labels).mean():.2%}"]
        cells += [f"{(predicted[mask] == labels).mean():.2%}" for predicted in runs.values()]
        label = name.replace("hp_test", "HP").replace("fo_test", "FO").replace("/", " ").upper()
        print(f"| {label} | {mask.sum()} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

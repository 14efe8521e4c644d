"""How far each model's features move when the same galaxies are observed under other conditions.

Usage::

    python benchmarks/feature_shift.py --nominal ev11 --changed ev11w \\
        --runs tr-xception-s0 cnn-compact-s0 ... [--weights FILE] [--test hp_test/sdss]

The two workspaces hold the same galaxies (skies drawn with one seed, observed or curated
otherwise) and the runs (`galcore import-run`). For every run, and with ``--weights`` for
Keras's ImageNet Xception as stage 1 starts it (its ``pool`` space only), the script passes
the test set's images of both workspaces through the network and reads two feature spaces:
``pool`` (the backbone's pooled output) and ``features`` (the head's 1024 features). In each
space it measures, with the nominal class means of ellipticals and spirals ``m_e`` and
``m_s`` and their separation ``d = |m_e - m_s|``:

- ``shift / d``: the median distance a galaxy's features move, in units of ``d``;
- ``spirals → ell.``: the median move of the spirals along ``m_e - m_s``, in units of ``d``
  (1 means a spiral moved the whole way to where ellipticals were);
- ``ell. → ell.``: the same for the ellipticals (positive: further into their own side);
- ``spread / d``: the nominal within-class spread (median distance to the class mean).

A network that learned shapes moves little under noise; one that reads the background's
texture moves its spirals towards the ellipticals, which is what the accuracy on the changed
sky then shows.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from galcore.inference import load_run_model
from galcore.training import FEATURES_LAYER, build_model, prediction_dataset
from store import LABELS, Workspace
from store.schema import SURVEYS, set_mask

SPACES = ("pool", FEATURES_LAYER)
ELLIPTICAL, SPIRAL = LABELS.index("elliptical"), LABELS.index("spiral")


def test_rows(workspace: Path, test: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the rows, object ids and labels of `test` (``"hp_test/sdss"``) in the catalog."""
    name, survey = test.split("/")
    catalog = Workspace(workspace).catalog(mode="r")
    columns = catalog.columns(["object_id", "label", "sets", "survey"])
    mask = set_mask(columns["sets"], name) & (columns["survey"] == SURVEYS.index(survey))
    mask &= columns["label"] >= 0
    rows = np.flatnonzero(mask)
    return rows, columns["object_id"][rows], columns["label"][rows]


def features_of(model, workspace: Path, rows: np.ndarray) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Return the model's ``pool`` and ``features`` outputs for the catalog's rows."""
    import keras

    catalog = Workspace(workspace).catalog(mode="r")
    data = prediction_dataset(catalog, rows, image_size=model.input_shape[1], batch_size=64)
    reader = keras.Model(model.inputs, [model.get_layer(space).output for space in SPACES])
    outputs = reader.predict(data, verbose=0)
    return dict(zip(SPACES, outputs, strict=True))


def shift_measures(nominal: np.ndarray, changed: np.ndarray, labels: np.ndarray) -> dict:
    """Return the shift, the spirals' and ellipticals' moves and the spread, in units of d."""
    m_e, m_s = nominal[labels == ELLIPTICAL].mean(0), nominal[labels == SPIRAL].mean(0)
    axis = m_e - m_s
    d = float(np.linalg.norm(axis))
    move = (changed - nominal) @ (axis / d)
    spread = np.where(labels[:, None] == ELLIPTICAL, nominal - m_e, nominal - m_s)
    return {
        "shift": float(np.median(np.linalg.norm(changed - nominal, axis=1))) / d,
        "spirals": float(np.median(move[labels == SPIRAL])) / d,
        "ellipticals": float(np.median(move[labels == ELLIPTICAL])) / d,
        "spread": float(np.median(np.linalg.norm(spread, axis=1))) / d,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nominal", type=Path, required=True, help="workspace, nominal sky")
    parser.add_argument("--changed", type=Path, required=True, help="workspace, same galaxies")
    parser.add_argument("--runs", nargs="+", required=True, help="runs held by both workspaces")
    parser.add_argument("--weights", type=Path, help="ImageNet Xception .h5: add stage 1's start")
    parser.add_argument("--test", default="hp_test/sdss", help="test set and survey")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    rows_n, ids_n, labels = test_rows(args.nominal, args.test)
    rows_c, ids_c, _ = test_rows(args.changed, args.test)
    common, at_n, at_c = np.intersect1d(ids_n, ids_c, return_indices=True)
    labels = labels[at_n]
    print(f"{args.test}: {len(common)} galaxies in both workspaces")

    nominal_space = Workspace(args.nominal)
    models = [
        (run, lambda run=run: load_run_model(nominal_space, run), SPACES) for run in args.runs
    ]
    if args.weights:
        size = load_run_model(nominal_space, args.runs[0]).input_shape[1]
        start = lambda: build_model(len(LABELS), size, weights=args.weights)  # noqa: E731
        models.append(("imagenet, untrained head", start, ("pool",)))
    print("| model | space | shift / d | spirals → ell. | ell. → ell. | spread / d |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, load, spaces in models:
        model = load()
        nominal = features_of(model, args.nominal, rows_n)
        changed = features_of(model, args.changed, rows_c)
        for space in spaces:
            m = shift_measures(nominal[space][at_n], changed[space][at_c], labels)
            print(
                f"| {name} | {space} | {m['shift']:.2f} | {m['spirals']:+.2f} | "
                f"{m['ellipticals']:+.2f} | {m['spread']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

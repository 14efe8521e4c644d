"""How the backbone should normalise while it trains, measured over seeds.

Trains the `demo` profile on a demo workspace (`galcore demo --workspace WS`) once per seed with
the backbone in each mode of `galcore.training.BATCH_NORM_MODES`:

- ``inference``: the backbone is called with ``training=False`` (Keras's fine-tuning advice);
  its batch-normalisation layers normalise with their moving statistics in training and
  inference alike.
- ``batch``: unfrozen layers normalise each training batch with its own statistics and update
  the moving ones, which inference then uses.
- ``group``: group normalisation, which has no moving statistics: training and inference
  normalise the same way.

and prints, per mode, the HP test accuracies (min / median / max over the seeds), the largest
drop of validation accuracy from one epoch to the next (how much the validation swings) and the
training time. Runs are named ``<prefix>-<mode>-s<seed>``; a run trained already is reused.

    python benchmarks/bench_batchnorm.py --workspace workspace --seeds 5 --prefix bn
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np

from galcore.evaluation import evaluate_run
from galcore.inference import predict
from galcore.training import BATCH_NORM_MODES, HISTORY_FILE, TrainConfig, train
from store import Workspace

SETS = ("hp_test/sdss", "hp_test/des")


def measure(workspace: Path, prefix: str, mode: str, seed: int) -> dict[str, float]:
    """Train (unless done), predict and evaluate one model; return its figures."""
    run = f"{prefix}-{mode}-s{seed}"
    space = Workspace(workspace)
    if run not in space.catalog(mode="r").runs():
        config = TrainConfig.from_profile(workspace, run, profile="demo", seed=seed)
        profile = dataclasses.replace(config.profile, batch_norm=mode)
        train(dataclasses.replace(config, profile=profile))
        predict(workspace, run)
    metrics = evaluate_run(workspace, run)
    stages = json.loads((space.model_dir(run) / HISTORY_FILE).read_text())["stages"]
    swing = max(
        (max(0.0, -min(np.diff(s["history"]["val_accuracy"]), default=0.0)) for s in stages[1:]),
        default=0.0,
    )
    attrs = space.catalog(mode="r").run(run).attrs
    return {name: metrics[name]["accuracy"] for name in SETS} | {
        "swing": swing,
        "seconds": attrs["wall_time_s"],
    }


def spread(values: list[float]) -> str:
    """Min / median / max as percentages."""
    return " / ".join(f"{v:.2%}" for v in (min(values), float(np.median(values)), max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True, help="a demo workspace")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--prefix", default="bn", help="start of the runs' names")
    parser.add_argument(
        "--modes", nargs="+", choices=BATCH_NORM_MODES, default=list(BATCH_NORM_MODES)
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = {mode: [] for mode in args.modes}
    began = time.perf_counter()
    for seed in range(args.seeds):
        for mode in args.modes:
            results[mode].append(measure(args.workspace, args.prefix, mode, seed))
            print(f"seed {seed} {mode}: {results[mode][-1]}", flush=True)
    header = (
        f"{'mode':<11}{'HP SDSS min / median / max':>30}{'HP DES min / median / max':>30}"
        f"{'worst val-acc drop':>20}{'train s (median)':>18}"
    )
    print(f"\n{args.seeds} seeds, demo profile, {time.perf_counter() - began:.0f} s in all")
    print(header)
    print("-" * len(header))
    for mode, rows in results.items():
        print(
            f"{mode:<11}{spread([r[SETS[0]] for r in rows]):>30}"
            f"{spread([r[SETS[1]] for r in rows]):>30}"
            f"{max(r['swing'] for r in rows):>20.2%}"
            f"{np.median([r['seconds'] for r in rows]):>18.0f}"
        )


if __name__ == "__main__":
    main()

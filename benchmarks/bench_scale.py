"""Survey scale: inference and embedding on Dask, per core, against one process.

Usage::

    python benchmarks/bench_scale.py [--objects 20000] [--xception-objects 2000]
        [--embed-rows 100000 1000000] [--workers 1 2]

Rows of the table:

- ``predict``: `galcore.inference.predict` of an untrained compact CNN at 64 px and of
  Xception at 128 px (the network's cost does not depend on its weights) over a catalog of
  random images, in this process (TensorFlow on every core: the baseline) and on local Dask
  clusters of 1 and 2 one-thread workers: the start-up (a one-block catalog: the cluster,
  TensorFlow and the model), and the steady images/s beyond it, per core and against the
  baseline.
- ``embed``: `galcore.embedding.embed_run` of 1024-d clustered features: the 5,000-point
  Barnes-Hut fit in the driver, then every other row placed into the map on 2 workers; the
  seconds of each and the growth from one size to the next.

Each configuration runs once, after one warm-up prediction in this process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from bench_dashboard import make_workspace  # benchmarks/ is the script's folder

from galcore.embedding import embed_run
from galcore.engine import Engine
from galcore.inference import predict
from galcore.training import FEATURES_WIDTH, MODEL_FILE, build_model
from store import LABELS, Workspace


def with_model(workspace: Workspace, backbone: str, size: int) -> None:
    """Save an untrained model of `backbone` as run r1's (weights do not change the cost)."""
    model = build_model(len(LABELS), size, backbone=backbone, weights=None)
    workspace.model_dir("r1").mkdir(parents=True, exist_ok=True)
    model.save(workspace.model_dir("r1") / MODEL_FILE)


def time_predict(workspace: Workspace, engine: Engine | None) -> float:
    """Seconds to predict the whole catalog on `engine` (None: in this process)."""
    began = time.perf_counter()
    predict(workspace, "r1", engine=engine, block_rows=1024)
    return time.perf_counter() - began


def predict_rows(
    root: Path, label: str, backbone: str, size: int, n: int, workers: list[int]
) -> Iterator[str]:
    """Yield the table rows of one network: in-process first, then each local cluster.

    Each configuration predicts a one-block catalog and the whole one; the first gives the
    start-up (cluster, TensorFlow, model), the difference the steady rate.
    """
    small = make_workspace(root / f"{label}-small", 64, image_size=size)
    large = make_workspace(root / label, n, image_size=size)
    for workspace in (small, large):
        with_model(workspace, backbone, size)
    time_predict(large, None)  # warm-up: files in the page cache, kernels chosen
    engines = [("in process", None, os.cpu_count() or 1)]
    engines += [(f"local cluster, {k} worker(s)", Engine(workers=k), k) for k in workers]
    baseline = None
    for where, engine, cores in engines:
        start_up = time_predict(small, engine)
        rate = (n - 64) / max(time_predict(large, engine) - start_up, 1e-9)
        baseline = baseline or rate
        yield (
            f"| predict {label} | {where} | {start_up:.1f} s | {rate:,.0f} img/s"
            f" | {rate / cores:,.0f} | {rate / baseline:.2f} |"
        )


def clustered_features(n: int, rng: np.random.Generator) -> np.ndarray:
    """Features like a trained network's: a few clusters in 1024-d, non-negative."""
    centres = rng.gamma(1.0, 1.0, (8, FEATURES_WIDTH)).astype(np.float32)
    noise = rng.normal(0, 0.3, (n, FEATURES_WIDTH)).astype(np.float32)
    return np.maximum(centres[rng.integers(0, 8, n)] + noise, 0)


def embed_rows(root: Path, sizes: list[int], workers: int) -> Iterator[str]:
    """Yield the table rows of the embedding at each size, with the growth between sizes."""
    rng = np.random.default_rng(0)
    previous = None
    for n in sizes:
        workspace = make_workspace(root / f"embed-{n}", n, image_size=4)
        run = workspace.catalog().run("r1")
        run.write("features", clustered_features(n, rng))
        began = time.perf_counter()
        embed_run(workspace.root, "r1", engine=Engine(workers=workers))
        seconds = time.perf_counter() - began
        growth = f"{seconds / previous[1]:.1f}x for {n / previous[0]:.0f}x rows" if previous else ""
        yield (
            f"| embed {n:,} rows | {workers} workers | {seconds:,.0f} s | {n / seconds:,.0f}"
            f" rows/s | {growth} |"
        )
        previous = (n, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000, help="catalog for the compact CNN")
    parser.add_argument("--xception-objects", type=int, default=2_000, help="catalog, Xception")
    parser.add_argument("--embed-rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        print("| step | where | start-up | steady rate | per core | vs in process |")
        print("| --- | --- | --- | --- | --- | --- |")
        networks = [("compact 64 px", "compact", 64, args.objects)]
        networks.append(("xception 128 px", "xception", 128, args.xception_objects))
        for label, backbone, size, n in networks:
            for row in predict_rows(root, label, backbone, size, n, args.workers):
                print(row, flush=True)
        if args.embed_rows:
            print("\n| step | where | time | rate | growth |")
            print("| --- | --- | --- | --- | --- |")
            for row in embed_rows(root, args.embed_rows, max(args.workers)):
                print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())

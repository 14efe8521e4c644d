"""Curation throughput: one process against several, and thumbnail-style random image reads.

Usage::

    python benchmarks/bench_curation.py [--n-sdss 600] [--n-des 700] [--size 64]

Writes a synthetic sky into a temporary folder, then times

- ``curate, 1 worker`` (the baseline) against ``curate, N workers`` (frames and tiles cut out in
  parallel processes), in galaxies per second;
- random reads of 16 scattered images (thumbnail-style): one zarr read per image (baseline)
  against ``Catalog.read_images``, one batched read.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from galcore.curation import CurationConfig, SurveyInputs, curate_catalog
from galcore.errors import CurationWarning
from galcore.sky import make_sky
from store import Workspace


def time_curation(sky: Path, root: Path, *, size: int, workers: int) -> tuple[float, int]:
    config = CurationConfig(size=size, workers=workers)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurationWarning)
        summary = curate_catalog(SurveyInputs.from_sky(sky), root, config=config)
    return time.perf_counter() - began, summary.n_sdss + summary.n_des


def time_reads(workspace: Workspace, *, reads: int) -> tuple[float, float]:
    catalog = workspace.catalog(mode="r")
    rows = np.random.default_rng(0).integers(0, len(catalog), (reads, 16))
    began = time.perf_counter()
    for batch in rows:
        for row in batch:
            catalog.images[row]
    baseline = time.perf_counter() - began
    began = time.perf_counter()
    for batch in rows:
        catalog.read_images(batch)
    return baseline, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sdss", type=int, default=600)
    parser.add_argument("--n-des", type=int, default=700)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--reads", type=int, default=200, help="batches of 16 random images")
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        sky = Path(tmp) / "sky"
        make_sky(sky, n_sdss=args.n_sdss, n_des=args.n_des)
        one, n = time_curation(sky, Path(tmp) / "one", size=args.size, workers=1)
        many, _ = time_curation(sky, Path(tmp) / "many", size=args.size, workers=workers)
        zarr_reads, catalog_reads = time_reads(Workspace(Path(tmp) / "one"), reads=args.reads)
    images = 16 * args.reads
    rows = [
        ("curate, 1 worker (baseline)", n / one, 1.0, "galaxies/s"),
        (f"curate, {workers} workers", n / many, one / many, "galaxies/s"),
        ("one read per image (baseline)", images / zarr_reads, 1.0, "images/s"),
        ("Catalog.read_images", images / catalog_reads, zarr_reads / catalog_reads, "images/s"),
    ]
    print(f"{'case':<34}{'rate':>12}  {'unit':<11}{'vs baseline':>12}")
    for name, rate, ratio, unit in rows:
        print(f"{name:<34}{rate:>12.0f}  {unit:<11}{ratio:>11.2f}x")


if __name__ == "__main__":
    main()

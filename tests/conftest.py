"""Shared fixtures: a small workspace with a real Zarr catalog and review ledger."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from store import CatalogWriter, RowBlocks, Workspace, sets_code
from store.schema import OBJECT_COLUMNS


def _give_web_loggers_back() -> None:
    """Undo what importing distributed does to tornado's and bokeh's loggers, for every test.

    The engine's tests import distributed, which sets those loggers to critical and error and
    stops them propagating; the dashboard's tests read what the web server logs (caplog).
    """
    import distributed  # noqa: F401  (configures its logging once, on import)

    for name in ("tornado", "tornado.application", "bokeh"):
        web = logging.getLogger(name)
        web.setLevel(logging.NOTSET)
        web.propagate = True
        web.handlers.clear()


_give_web_loggers_back()


TOY_SIZE = 32
TOY_STATUS = ("ok", "off_frame")


def toy_images(labels: np.ndarray, rng: np.random.Generator, size: int = TOY_SIZE) -> np.ndarray:
    """Red round blobs for ellipticals (0), blue elongated ones for spirals (1), with noise."""
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    images = np.empty((len(labels), size, size, 3), dtype=np.uint8)
    for k, label in enumerate(labels):
        angle = rng.uniform(0, np.pi)
        u = x * np.cos(angle) + y * np.sin(angle)
        v = -x * np.sin(angle) + y * np.cos(angle)
        axis = 0.4 if label == 1 else 0.9
        blob = np.exp(-0.5 * ((u / (size / 6)) ** 2 + (v / (axis * size / 6)) ** 2))
        colour = np.array([0.5, 0.7, 1.0]) if label == 1 else np.array([1.0, 0.7, 0.4])
        image = blob[..., None] * colour * 230 + rng.normal(0, 8, (size, size, 3)) + 15
        images[k] = np.clip(image, 0, 255).astype(np.uint8)
    return images


def toy_columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Object columns of `n` objects: half SDSS, half DES, their pairs matched row to row."""
    half = n // 2
    labels = rng.integers(0, 2, n).astype(np.int8)
    labels[half:] = labels[: n - half]
    columns = {name: np.zeros(n, dtype=dtype) for name, dtype in OBJECT_COLUMNS.items()}
    columns["object_id"] = np.concatenate(
        [1237650000000000000 + np.arange(half), 500000000 + np.arange(n - half)]
    )
    columns["survey"][half:] = 1
    columns["ra"] = 10 + rng.uniform(-0.5, 0.5, n)
    columns["dec"] = rng.uniform(-0.5, 0.5, n)
    columns["label"] = labels
    columns["gz_p_cs"] = np.where(labels == 1, 0.99, 0.02).astype(np.float32)
    columns["gz_p_el"] = 1 - columns["gz_p_cs"]
    columns["match_index"] = np.concatenate([np.arange(half) + half, np.arange(n - half)])
    names = np.array(["train"] * 6 + ["val"] * 2 + ["hp_test"] * 2)[np.arange(half) % 10]
    sdss_sets = np.array([sets_code([name]) for name in names], dtype=np.uint8)
    columns["sets"] = np.concatenate(
        [sdss_sets, np.full(n - half, sets_code(["unlabelled"]), dtype=np.uint8)]
    )
    columns["label"][half + (n - half) // 2 :] = -1
    return columns


def make_toy_workspace(root: Path, n: int = 200, seed: int = 0) -> Workspace:
    """Write a catalog of `n` toy objects (one of them failed curation) into `root`."""
    rng = np.random.default_rng(seed)
    columns = toy_columns(n, rng)
    workspace = Workspace(root)
    writer = CatalogWriter(
        workspace.catalog_path, columns, image_size=TOY_SIZE, status_codes=TOY_STATUS
    )
    writer.write_images(0, toy_images(columns["label"].clip(0), rng))
    status = np.zeros(n, dtype=np.uint8)
    status[n - 1] = 1
    writer.set_status(status, {n - 1: f"galaxy {columns['object_id'][n - 1]}: off the frame"})
    writer.commit()
    return workspace


@pytest.fixture
def toy_workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace with a 200-object toy catalog and an empty ledger."""
    return make_toy_workspace(tmp_path / "ws")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test: a real disk that fills up (root only)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["/usr/bin/mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["/usr/bin/umount", "-l", str(mount)], check=False)


@contextmanager
def block_write_fails_at(start: int) -> Iterator[None]:
    """Make `RowBlocks.write` raise OSError for the block at row `start`, as a lost disk would.

    The step stops there; the blocks written before stay recorded for ``resume``.
    """
    write = RowBlocks.write

    def failing(blocks: RowBlocks, first: int, values: dict) -> None:
        if first == start:
            msg = f"the disk went away while writing block {start}"
            raise OSError(msg)
        write(blocks, first, values)

    with mock.patch.object(RowBlocks, "write", failing), pytest.raises(OSError, match="went away"):
        yield

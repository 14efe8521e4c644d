"""Throughput of the training input pipeline (tf.data from the Zarr catalog) against baselines.

Usage::

    python benchmarks/bench_input_pipeline.py [--n 4096] [--size 128] [--batches 100]

Writes a throw-away catalog of random images into a temporary folder, then times how many images
per second each reader delivers as resized, augmented training batches:

- ``zarr, streamed``: the training pipeline reading one 64-image chunk at a time (the path for
  sets that do not fit in memory, like the paper's 36,000 x 299 x 299 x 3);
- ``zarr, preloaded``: the training pipeline with the shard read into memory once;
- ``zarr, one image per read``: a naive reader fetching each shuffled row on its own;
- ``numpy in memory``: ``from_tensor_slices`` over an array already in memory (upper bound);
- ``zarr, streamed + augmented``: the streamed pipeline with the paper's augmentation.

All but the last resize and batch without augmentation, so they compare reading alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from galcore.training import Augmentation, Examples, training_dataset
from store import CatalogWriter, Workspace, sets_code
from store.schema import OBJECT_COLUMNS


def make_catalog(root: Path, n: int, size: int) -> Workspace:
    workspace = Workspace(root)
    columns = {name: np.zeros(n, dtype=dtype) for name, dtype in OBJECT_COLUMNS.items()}
    columns["object_id"] = np.arange(n)
    columns["label"] = np.arange(n) % 2
    columns["sets"][:] = sets_code(["train"])
    writer = CatalogWriter(workspace.catalog_path, columns, image_size=size, status_codes=["ok"])
    rng = np.random.default_rng(0)
    for start in range(0, n, 64):
        block = rng.integers(0, 256, (min(64, n - start), size, size, 3), dtype=np.uint8)
        writer.write_images(start, block)
    writer.commit()
    return workspace


NO_AUGMENTATION = Augmentation(flip=False, rotation_deg=0, shift=0, zoom=0)


def pipeline(
    workspace: Workspace, *, preload: bool, image_size: int, augmentation: Augmentation
) -> tf.data.Dataset:
    catalog = workspace.catalog(mode="r")
    examples = Examples(np.arange(len(catalog)), catalog.column("label"))
    return training_dataset(
        catalog,
        examples,
        image_size=image_size,
        batch_size=32,
        augmentation=augmentation,
        seed=0,
        shuffle_buffer=2048,
        preload_bytes=1 << 40 if preload else 0,
    )


def one_image_per_read(workspace: Workspace, *, image_size: int) -> tf.data.Dataset:
    catalog = workspace.catalog(mode="r")
    size = catalog.image_size
    rng = np.random.default_rng(0)

    def generate() -> Iterator[tuple[np.ndarray, np.int64]]:
        for row in rng.permutation(len(catalog)):
            yield catalog.images[int(row)], np.int64(row % 2)

    signature = (tf.TensorSpec((size, size, 3), tf.uint8), tf.TensorSpec((), tf.int64))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature).repeat()
    return _batches(dataset, image_size)


def in_memory(workspace: Workspace, *, image_size: int) -> tf.data.Dataset:
    catalog = workspace.catalog(mode="r")
    images = catalog.images[...]
    dataset = tf.data.Dataset.from_tensor_slices((images, catalog.column("label").astype(int)))
    return _batches(dataset.shuffle(2048, seed=0).repeat(), image_size)


def _batches(dataset: tf.data.Dataset, image_size: int) -> tf.data.Dataset:
    def prepare(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images = tf.image.resize(tf.cast(images, tf.float32), (image_size, image_size))
        return images, tf.one_hot(labels, 2)

    return dataset.batch(32).map(prepare).prefetch(tf.data.AUTOTUNE)


def images_per_second(dataset: tf.data.Dataset, batches: int) -> float:
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    count = sum(int(next(iterator)[0].shape[0]) for _ in range(batches))
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="images in the catalog")
    parser.add_argument("--size", type=int, default=128, help="catalog image side")
    parser.add_argument("--image-size", type=int, default=64, help="model input side")
    parser.add_argument("--batches", type=int, default=100, help="batches of 32 timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workspace = make_catalog(Path(folder) / "ws", args.n, args.size)
        side = args.image_size
        plain = {"image_size": side, "augmentation": NO_AUGMENTATION}
        readers = {
            "zarr, streamed (chunks)": pipeline(workspace, preload=False, **plain),
            "zarr, preloaded": pipeline(workspace, preload=True, **plain),
            "zarr, one image per read": one_image_per_read(workspace, image_size=side),
            "numpy in memory": in_memory(workspace, image_size=side),
            "zarr, streamed + augmented": pipeline(
                workspace, preload=False, image_size=side, augmentation=Augmentation()
            ),
        }
        print(f"{args.n} images of {args.size}px -> batches of 32 at {args.image_size}px")
        print(f"{'reader':28s} {'images/s':>10s}")
        for name, dataset in readers.items():
            print(f"{name:28s} {images_per_second(dataset, args.batches):10.0f}")


if __name__ == "__main__":
    main()

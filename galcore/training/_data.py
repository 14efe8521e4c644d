"""Catalog rows to `tf.data`: chunk-aligned reads, sharding, resizing and training augmentation.

Images are read one Zarr chunk (64 images) at a time, because every chunk read costs about a
millisecond however few of its images are used. A worker whose shard fits in `preload_bytes` reads
it once; a larger shard (the paper's 36,000 images of 299x299x3 are 9.7 GB) is streamed from the
catalog in every epoch, its chunks in a new random order, through a shuffle buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from galcore.errors import TrainingError
from galcore.training._degrade import degrader
from galcore.training._profiles import Augmentation
from store.schema import LABELS, set_mask

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from store import Catalog

__all__ = [
    "Examples",
    "default_examples",
    "evaluation_dataset",
    "prediction_dataset",
    "resize_images",
    "training_dataset",
]


@dataclass(frozen=True)
class Examples:
    """Labelled catalog rows: what a run trains or validates on.

    Parameters
    ----------
    rows
        Distinct catalog rows (int64).
    labels
        Class of each row, an index into `store.LABELS`.

    Raises
    ------
    TrainingError
        If rows and labels differ in length, rows repeat or a label is not a class.
    """

    rows: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        rows = np.asarray(self.rows, dtype=np.int64)
        labels = np.asarray(self.labels, dtype=np.int64)
        if rows.ndim != 1 or rows.shape != labels.shape:
            msg = f"rows {rows.shape} and labels {labels.shape} must be 1-D and of equal length"
            raise TrainingError(msg)
        if len(np.unique(rows)) != len(rows):
            msg = f"rows must be distinct; {len(rows) - len(np.unique(rows))} rows repeat"
            raise TrainingError(msg)
        if len(labels) and not 0 <= labels.min() <= labels.max() < len(LABELS):
            msg = f"labels must be class indices 0 to {len(LABELS) - 1} ({', '.join(LABELS)})"
            raise TrainingError(msg)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.rows)

    def shard(self, *, rank: int, size: int, chunk: int) -> Examples:
        """Return the rows of worker `rank` of `size`: whole chunks when there are enough.

        Each worker then reads only its own chunks. With fewer chunks than workers the sorted
        rows are dealt out one by one instead, so no worker is left without rows.

        Parameters
        ----------
        rank
            This worker's rank.
        size
            Number of workers.
        chunk
            Images per chunk of the catalog's image array.

        Returns
        -------
        examples : Examples
            This worker's rows and labels, sorted by row.
        """
        order = np.argsort(self.rows, kind="stable")
        rows, labels = self.rows[order], self.labels[order]
        blocks = np.unique(rows // chunk)
        if len(blocks) >= size:
            keep = np.isin(rows // chunk, blocks[rank::size])
        else:
            keep = np.arange(len(rows)) % size == rank
        return Examples(rows[keep], labels[keep])


def default_examples(catalog: Catalog, set_name: str = "train") -> Examples:
    """Return the curated, labelled rows of one data set.

    Parameters
    ----------
    catalog
        The catalog.
    set_name
        One of `store.SETS`, e.g. ``"train"`` or ``"val"``.

    Returns
    -------
    examples : Examples
        Rows in the set with an image (status ok or partial) and a label, in catalog order.
    """
    labels = catalog.column("label")
    mask = set_mask(catalog.column("sets"), set_name) & catalog.usable() & (labels >= 0)
    rows = np.flatnonzero(mask)
    return Examples(rows, labels[rows])


class _BlockSource:
    """The images of some rows, one catalog chunk at a time, from memory when they fit.

    A chunk is read as one slice of the image array: in zarr-python, slicing decodes a 64-image
    chunk about ten times faster than fancy indexing (`Catalog.read_images`) does.
    """

    def __init__(self, catalog: Catalog, examples: Examples, *, preload_bytes: int) -> None:
        order = np.argsort(examples.rows, kind="stable")
        self.rows, self.values = examples.rows[order], examples.labels[order]
        self.catalog = catalog
        chunk = catalog.images.chunks[0]
        starts = np.flatnonzero(np.diff(self.rows // chunk)) + 1
        self.blocks = np.split(np.arange(len(self.rows)), starts) if len(self.rows) else []
        fits = len(self.rows) * np.prod(catalog.images.shape[1:]) <= preload_bytes
        loaded = fits and bool(self.blocks)
        self._images = np.concatenate([self._load(b) for b in self.blocks]) if loaded else None

    def _load(self, block: np.ndarray) -> np.ndarray:
        """Read the images at positions `block` (rows of one chunk) with one slice."""
        rows = self.rows[block]
        return self.catalog.images[rows[0] : rows[-1] + 1][rows - rows[0]]

    def read_block(self, index: np.int64) -> tuple[np.ndarray, np.ndarray]:
        """Return the images and values of block `index`."""
        block = self.blocks[int(index)]
        images = self._load(block) if self._images is None else self._images[block]
        return images, self.values[block]


def _block_dataset(source: _BlockSource, *, seed: int | None) -> tf.data.Dataset:
    """Return the source's (image, value) pairs, reading several chunks in parallel.

    With a seed the chunks come in a new random order in every epoch; without one, in catalog
    order.
    """
    import tensorflow as tf

    side = source.catalog.image_size
    blocks = tf.data.Dataset.range(len(source.blocks))
    if seed is not None:
        blocks = blocks.shuffle(
            max(1, len(source.blocks)), seed=seed, reshuffle_each_iteration=True
        )

    def read(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images, values = tf.numpy_function(source.read_block, [index], (tf.uint8, tf.int64))
        return tf.ensure_shape(images, (None, side, side, 3)), tf.ensure_shape(values, (None,))

    return blocks.map(read, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


def _prepare(dataset: tf.data.Dataset, *, image_size: int, batch_size: int) -> tf.data.Dataset:
    """Batch (image, label) pairs, resize the images and one-hot encode the labels."""
    import tensorflow as tf

    def prepare(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return resize_images(images, image_size), tf.one_hot(labels, len(LABELS))

    return dataset.batch(batch_size).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)


def resize_images(images: tf.Tensor, image_size: int) -> tf.Tensor:
    """Return uint8 images as floats in [0, 255], resized to `image_size` when they differ.

    Every model input goes through this (training, evaluation, prediction, classification).
    """
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    if images.shape[1] == image_size:
        return images
    return tf.image.resize(images, (image_size, image_size), antialias=True)


def training_dataset(
    catalog: Catalog,
    examples: Examples,
    *,
    image_size: int,
    batch_size: int,
    augmentation: Augmentation,
    seed: int,
    shuffle_buffer: int,
    preload_bytes: int,
) -> tf.data.Dataset:
    """Return an endless, shuffled, augmented dataset of (images, one-hot labels) batches.

    Parameters
    ----------
    catalog
        The catalog the images come from.
    examples : Examples
        The rows to train on (one worker's shard).
    image_size
        Side of the model input; images of another size are resized.
    batch_size
        Images per batch.
    augmentation
        The random transformations applied to each batch.
    seed
        Seed of the chunk order, the shuffle buffer and the augmentation.
    shuffle_buffer
        Images in the shuffle buffer.
    preload_bytes
        Read the images into memory once when they take at most this many bytes.

    Returns
    -------
    tf.data.Dataset
        Batches of float32 images in [0, 255] and float32 one-hot labels; use ``steps_per_epoch``.
    """
    import tensorflow as tf

    source = _BlockSource(catalog, examples, preload_bytes=preload_bytes)
    dataset = _block_dataset(source, seed=seed)
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = _prepare(dataset, image_size=image_size, batch_size=batch_size)
    seeds = np.random.SeedSequence(seed).spawn(2)
    augment = _augmenter(augmentation, seed=int(seeds[0].generate_state(1)[0]))
    degrade = degrader(
        augmentation.blur_px,
        augmentation.noise,
        colour=augmentation.colour,
        fraction=augmentation.degrade_fraction,
        seed=int(seeds[1].generate_state(1)[0]),
    )

    def augmented(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return degrade(augment(images, training=True)), labels

    dataset = dataset.map(augmented, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _augmenter(augmentation: Augmentation, *, seed: int) -> keras.Sequential:
    """Return the Keras preprocessing layers of `augmentation`, each with a seed of its own.

    Layers given one seed draw the same random numbers, so a flip would always come with the
    same rotation; the seeds are spawned from `seed` instead. Zoom keeps the axis ratio.
    """
    import keras

    layers = keras.layers
    seeds = iter(int(s) for s in np.random.SeedSequence(seed).generate_state(4))
    interpolation = augmentation.interpolation
    steps = []
    if augmentation.flip:
        steps.append(layers.RandomFlip("horizontal_and_vertical", seed=next(seeds)))
    if augmentation.rotation_deg:
        rotation = augmentation.rotation_deg / 360
        steps.append(layers.RandomRotation(rotation, "reflect", interpolation, seed=next(seeds)))
    if augmentation.shift:
        shift = augmentation.shift
        steps.append(
            layers.RandomTranslation(shift, shift, "reflect", interpolation, seed=next(seeds))
        )
    if augmentation.zoom:
        zoom = augmentation.zoom
        steps.append(layers.RandomZoom(zoom, None, "reflect", interpolation, seed=next(seeds)))
    return keras.Sequential(steps, name="augmentation")


def evaluation_dataset(
    catalog: Catalog,
    examples: Examples,
    *,
    image_size: int,
    batch_size: int,
    preload_bytes: int = 0,
) -> tf.data.Dataset:
    """Return (images, one-hot labels) batches in catalog order, without augmentation.

    Parameters
    ----------
    catalog
        The catalog the images come from.
    examples : Examples
        The rows to evaluate.
    image_size
        Side of the model input; images of another size are resized.
    batch_size
        Images per batch.
    preload_bytes
        Read the images into memory once when they take at most this many bytes (validation
        data is read once per epoch).

    Returns
    -------
    tf.data.Dataset
        One pass over the rows, sorted.
    """
    import tensorflow as tf

    source = _BlockSource(catalog, examples, preload_bytes=preload_bytes)
    dataset = _prepare(
        _block_dataset(source, seed=None), image_size=image_size, batch_size=batch_size
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def prediction_dataset(
    catalog: Catalog, rows: np.ndarray, *, image_size: int, batch_size: int
) -> tf.data.Dataset:
    """Return image batches of `rows` in sorted order, streamed chunk by chunk, never augmented.

    Parameters
    ----------
    catalog
        The catalog the images come from.
    rows
        Distinct catalog rows.
    image_size
        Side of the model input; images of another size are resized.
    batch_size
        Images per batch.

    Returns
    -------
    tf.data.Dataset
        Float32 image batches in [0, 255].
    """
    examples = Examples(rows, np.zeros(len(rows), dtype=np.int64))
    dataset = evaluation_dataset(catalog, examples, image_size=image_size, batch_size=batch_size)
    return dataset.map(lambda images, _: images)

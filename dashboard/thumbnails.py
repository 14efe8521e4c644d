"""Galaxy thumbnails rendered as PNG straight from the catalog's uint8 images.

Nothing is written to disk: a thumbnail's image is read from the Zarr catalog one whole chunk at
a time (the last few decoded chunks are kept, so a page of neighbouring rows decodes each chunk
once), upscaled by a whole factor (nearest neighbour, so every stored pixel stays visible and
exact) and encoded as PNG, with an LRU cache keyed by the catalog version so a re-curated catalog
is never shown stale. A chunk that is missing or cannot be decoded raises `ImageUnavailableError`
(logged once per catalog version); `placeholder_png` draws what to show instead.

Rendering is thread-safe, so a server can render in worker threads and answer what is cached
already (`cached_thumbnail_png`) without waiting for them.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dashboard.data import data_version
from store import Catalog, StoreError, Workspace

__all__ = [
    "ImageUnavailableError",
    "cached_thumbnail_png",
    "encode_png",
    "placeholder_png",
    "thumbnail_png",
]

logger = logging.getLogger(__name__)

THUMBNAIL_CACHE_SIZE = 1024
"""Thumbnails kept in memory (5 to 40 kB each for 64 px images: at most ~40 MB)."""

CHUNK_CACHE_SIZE = 4
"""Decoded image chunks kept in memory (64 images each: 0.8 MB at 64 px)."""

PNG_COMPRESS_LEVEL = 1
"""zlib level: half the encoding time of the default (6) for a few percent more bytes."""

_PLACEHOLDER_TEXT = "no image"
_PLACEHOLDER_COLOURS = ("#3a3a3a", "#d0d0d0")
_reported: set[tuple[str, int, int]] = set()
_reported_lock = threading.Lock()


class ImageUnavailableError(StoreError):
    """The chunk holding an image is missing from the catalog or cannot be decoded."""


@lru_cache(maxsize=4)
def _open_catalog(path: str, version: int) -> Catalog:  # noqa: ARG001 (cache key)
    """Open a catalog read-only, once per catalog version."""
    return Catalog(Path(path), mode="r")


@lru_cache(maxsize=CHUNK_CACHE_SIZE)
def _read_chunk(path: str, version: int, index: int) -> np.ndarray:
    """Read and decode one chunk of the image array (read-only: it is shared)."""
    images = _open_catalog(path, version).images
    key = f"{images.path}/{images.metadata.encode_chunk_key((index, 0, 0, 0))}"
    first = index * images.chunks[0]
    stop = min(images.shape[0], first + images.chunks[0])
    where = f"image chunk {key} (rows {first} to {stop - 1})"
    if not (Path(path) / key).is_file():  # zarr would fill a missing chunk with zeros
        raise _unavailable(path, version, index, f"missing {where}")
    try:
        chunk = images[first:stop]
    except Exception as error:  # each codec raises its own errors
        raise _unavailable(path, version, index, f"corrupt {where}: {error}") from error
    chunk.flags.writeable = False
    return chunk


def _unavailable(path: str, version: int, index: int, problem: str) -> ImageUnavailableError:
    """Return the error for a chunk's problem, logging it the first time in a catalog version."""
    with _reported_lock:
        first = (path, version, index) not in _reported
        _reported.add((path, version, index))
    if first:
        logger.warning("%s: %s", path, problem)
    return ImageUnavailableError(problem)


_Key = tuple[str, int, int, int]


class _RenderCache:
    """The newest rendered thumbnails, by (catalog path, version, row, min_size); thread-safe."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._items: OrderedDict[_Key, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _Key) -> bytes | None:
        """Return the PNG rendered for `key`, None if there is none."""
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
            return png

    def put(self, key: _Key, png: bytes) -> None:
        """Keep a rendered PNG, forgetting the least recently used past the size."""
        with self._lock:
            self._items[key] = png
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)


_renders = _RenderCache(THUMBNAIL_CACHE_SIZE)


def _render(path: str, version: int, row: int, min_size: int) -> bytes:
    """Read one image (through its chunk) and encode it, upscaled, as PNG."""
    catalog = _open_catalog(path, version)
    if not 0 <= row < len(catalog):
        msg = f"no image at row {row} in {path}: the catalog has rows 0 to {len(catalog) - 1}"
        raise IndexError(msg)
    step = catalog.images.chunks[0]
    return encode_png(_read_chunk(path, version, row // step)[row % step], min_size)


def encode_png(image: np.ndarray, min_size: int) -> bytes:
    """Encode an RGB image as PNG, enlarged by the smallest whole factor that reaches `min_size`.

    Parameters
    ----------
    image
        uint8 (S, S, 3) pixels.
    min_size
        The image is enlarged (nearest neighbour, so each stored pixel becomes a square block)
        until it is at least this many pixels wide.

    Returns
    -------
    bytes
        An RGB PNG image.
    """
    picture = Image.fromarray(image, mode="RGB")
    factor = max(1, -(-min_size // picture.width))
    size = (picture.width * factor, picture.height * factor)
    return _png_bytes(picture.resize(size, Image.Resampling.NEAREST))


@lru_cache(maxsize=8)
def placeholder_png(side: int) -> bytes:
    """Return a square grey PNG saying "no image", shown where an image cannot be read.

    Parameters
    ----------
    side
        Width and height in pixels.

    Returns
    -------
    bytes
        An RGB PNG image.
    """
    background, ink = _PLACEHOLDER_COLOURS
    picture = Image.new("RGB", (side, side), background)
    font = ImageFont.load_default(size=max(8, side // 8))
    ImageDraw.Draw(picture).text((side / 2, side / 2), _PLACEHOLDER_TEXT, ink, font, anchor="mm")
    return _png_bytes(picture)


def _png_bytes(picture: Image.Image) -> bytes:
    """Encode a picture as PNG."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def thumbnail_png(
    workspace: Workspace, row: int, *, min_size: int = 256, version: int | None = None
) -> bytes:
    """Return the stored image of one catalog row as PNG bytes, upscaled for viewing.

    Parameters
    ----------
    workspace
        The workspace whose catalog holds the images.
    row
        The catalog row.
    min_size
        The image is enlarged by the smallest whole factor that makes it at least this many
        pixels wide (nearest neighbour, so each stored pixel becomes a square block).
    version
        The catalog's `data_version`, when the caller has read it already (an HTTP handler
        builds its entity tag from it); read from the workspace by default.

    Returns
    -------
    bytes
        An RGB PNG image.

    Raises
    ------
    IndexError
        If `row` is not a row of the catalog.
    ValueError
        If `min_size` is not positive.
    StoreNotFoundError
        If the workspace has no catalog.
    ImageUnavailableError
        If the chunk holding the image is missing or corrupt; the message names it.

    Examples
    --------
    >>> png = thumbnail_png(Workspace("ws"), 12)  # doctest: +SKIP
    >>> Image.open(io.BytesIO(png)).size  # 32 px stored, 8 x enlarged  # doctest: +SKIP
    (256, 256)
    """
    if min_size < 1:
        msg = f"min_size must be a positive number of pixels, got {min_size}"
        raise ValueError(msg)
    version = data_version(workspace) if version is None else version
    key = (str(workspace.catalog_path), version, int(row), min_size)
    png = _renders.get(key)
    if png is None:
        png = _render(*key)
        _renders.put(key, png)
    return png


def cached_thumbnail_png(
    workspace: Workspace, row: int, *, min_size: int, version: int
) -> bytes | None:
    """Return what `thumbnail_png` rendered already for these arguments, reading nothing.

    Parameters
    ----------
    workspace, row, min_size, version
        As for `thumbnail_png` (the version is required: reading it is the caller's job).

    Returns
    -------
    bytes or None
        The PNG, or None if it is not in the cache (render it with `thumbnail_png`).
    """
    return _renders.get((str(workspace.catalog_path), version, int(row), min_size))

"""Galaxy thumbnails rendered as PNG straight from the catalog's uint8 images.

Nothing is written to disk: each thumbnail is read from the Zarr catalog, upscaled by a whole
factor (nearest neighbour, so every stored pixel stays visible and exact) and encoded as PNG,
with an LRU cache keyed by the catalog version so a re-curated catalog is never shown stale.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image

from dashboard.data_store import data_version
from store import Catalog, Workspace

__all__ = ["thumbnail_png"]

THUMBNAIL_CACHE_SIZE = 1024
"""Thumbnails kept in memory (a few kB each)."""


@lru_cache(maxsize=4)
def _open_catalog(path: str, version: int) -> Catalog:  # noqa: ARG001 (cache key)
    """Open a catalog read-only, once per catalog version."""
    return Catalog(Path(path), mode="r")


@lru_cache(maxsize=THUMBNAIL_CACHE_SIZE)
def _render(path: str, version: int, row: int, min_size: int) -> bytes:
    """Read one image and encode it, upscaled, as PNG."""
    catalog = _open_catalog(path, version)
    if not 0 <= row < len(catalog):
        msg = f"no image at row {row} in {path}: the catalog has rows 0 to {len(catalog) - 1}"
        raise IndexError(msg)
    image = Image.fromarray(catalog.read_images([row])[0], mode="RGB")
    factor = max(1, -(-min_size // catalog.image_size))
    image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_png(workspace: Workspace, row: int, *, min_size: int = 256) -> bytes:
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

    Examples
    --------
    >>> png = thumbnail_png(Workspace("ws"), 12)  # doctest: +SKIP
    >>> Image.open(io.BytesIO(png)).size  # 32 px stored, 8 x enlarged  # doctest: +SKIP
    (256, 256)
    """
    if min_size < 1:
        msg = f"min_size must be a positive number of pixels, got {min_size}"
        raise ValueError(msg)
    return _render(str(workspace.catalog_path), data_version(workspace), int(row), min_size)

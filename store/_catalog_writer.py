"""Write a new catalog: the `CatalogSink` protocol of curation and its `CatalogWriter`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import zarr

from store._swap import PartialFolder, reports_full_disk
from store.catalog import IMAGE_CHUNK, ROW_CHUNK
from store.errors import SchemaError
from store.schema import (
    COLUMN_DEFAULTS,
    OBJECT_COLUMNS,
    SCHEMA_VERSION,
    STATUS_OK,
    check_column,
    validate_columns,
)

__all__ = ["CatalogSink", "CatalogWriter", "check_status_codes", "write_objects", "write_rows"]


def write_rows(array: zarr.Array, start: int, values: np.ndarray) -> None:
    """Write `values` into `array` from row `start`, one chunk of rows at a time.

    Zarr writes the chunks of one assignment concurrently and, when one fails (a full disk),
    lets the others run on: chunk by chunk, nothing is still writing once an error is raised,
    so the folder being written can be removed at once.
    """
    step = array.chunks[0]
    stop = start + len(values)
    edge = start
    while edge < stop:
        end = min(stop, (edge // step + 1) * step)
        array[edge:end] = values[edge - start : end - start]
        edge = end


def check_status_codes(status_codes: Sequence[str]) -> None:
    """Raise unless the status names start with "ok" (code 0)."""
    if not status_codes or status_codes[0] != STATUS_OK:
        msg = f"status_codes must start with {STATUS_OK!r}, got {list(status_codes)}"
        raise SchemaError(msg)


def write_objects(
    root: zarr.Group,
    columns: Mapping[str, np.ndarray],
    status_codes: Sequence[str],
    failures: Mapping[int, str],
) -> None:
    """Write (or replace) the `objects` group: its columns, status codes and failure messages."""
    size = validate_columns(columns)
    objects = root.create_group("objects", overwrite=True)
    objects.attrs.update(
        {
            "status_codes": list(status_codes),
            "failures": [[int(row), msg] for row, msg in sorted(failures.items())],
        }
    )
    chunk = max(1, min(size, ROW_CHUNK))
    for name, dtype in OBJECT_COLUMNS.items():
        array = objects.create_array(name, shape=(size,), dtype=dtype, chunks=(chunk,))
        values = np.asarray(columns.get(name, COLUMN_DEFAULTS.get(name))).astype(dtype)
        write_rows(array, 0, np.broadcast_to(values, (size,)))


@runtime_checkable
class CatalogSink(Protocol):
    """Where a curation writes: a new catalog (`CatalogWriter`) or an addition to one.

    Nothing changes at `path` until `commit`, which puts the result in place in one step;
    `abort` throws it away. `rows` are the rows being written: every row of a new catalog,
    the new rows of an addition; `set_column` and `set_status` take values for them.
    """

    path: Path

    @property
    def rows(self) -> range:
        """The rows being written."""
        ...

    def write_images(self, start: int, images: np.ndarray) -> None:
        """Write a block of images from row `start`."""
        ...

    def set_column(self, name: str, values: np.ndarray) -> None:
        """Set one object column of `rows`."""
        ...

    def set_status(
        self,
        status: np.ndarray,
        failures: Mapping[int, str],
        status_codes: Sequence[str] | None = None,
    ) -> None:
        """Store the status codes of `rows`, the failed rows' messages and the status names."""
        ...

    def update_attrs(self, **values: Any) -> None:  # noqa: ANN401
        """Add or replace catalog attributes."""
        ...

    def commit(self) -> Path:
        """Put the result in place in one step and return its path."""
        ...

    def abort(self) -> None:
        """Throw the result away; the catalog stays as it was."""
        ...


class CatalogWriter:
    """Write a new catalog into a temporary folder, then move it into place at once.

    Nothing appears at `path` until `commit`; a failure (or `abort`) leaves any existing
    catalog as it was. A full disk raises `DiskFullError`. Every new catalog gets a new
    `Catalog.catalog_id`. A `CatalogSink`.

    Parameters
    ----------
    path
        The final `catalog.zarr` folder.
    columns
        Object columns, validated against `store.schema.OBJECT_COLUMNS`.
    image_size
        Side of the square images in pixels.
    status_codes
        Status names, code 0 first (it must be "ok").
    attrs
        Catalog attributes (provenance, thresholds, sizes).
    """

    def __init__(
        self,
        path: Path | str,
        columns: Mapping[str, np.ndarray],
        *,
        image_size: int,
        status_codes: Sequence[str],
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        check_status_codes(status_codes)
        self.path = Path(path)
        self.size = validate_columns(columns)
        self._tmp = PartialFolder(self.path)
        try:
            self._root = self._create(columns, image_size, status_codes, attrs or {})
        except BaseException:
            self.abort()
            raise
        self.images = self._root["images"]

    @reports_full_disk
    def _create(
        self,
        columns: Mapping[str, np.ndarray],
        image_size: int,
        status_codes: Sequence[str],
        attrs: Mapping[str, Any],
    ) -> zarr.Group:
        """Create the catalog's group, its columns and its empty image array."""
        root = zarr.open_group(self._tmp.path, mode="w-")
        root.attrs.update(
            {"schema_version": SCHEMA_VERSION, **attrs, "catalog_id": uuid.uuid4().hex}
        )
        write_objects(root, columns, status_codes, {})
        shape = (self.size, image_size, image_size, 3)
        root.create_array(
            "images", shape=shape, dtype="uint8", chunks=(IMAGE_CHUNK, image_size, image_size, 3)
        )
        return root

    @property
    def rows(self) -> range:
        """Every row of the new catalog."""
        return range(self.size)

    @reports_full_disk
    def write_images(self, start: int, images: np.ndarray) -> None:
        """Write a block of images from row `start`; blocks should align with `IMAGE_CHUNK`."""
        write_rows(self.images, start, images)

    @reports_full_disk
    def set_column(self, name: str, values: np.ndarray) -> None:
        """Replace one object column (e.g. `sets`, known only after the images are cut)."""
        check_column(name)
        values = np.asarray(values).astype(OBJECT_COLUMNS[name])
        write_rows(self._root["objects"][name], 0, np.broadcast_to(values, self.rows.stop))

    @reports_full_disk
    def set_status(
        self,
        status: np.ndarray,
        failures: Mapping[int, str],
        status_codes: Sequence[str] | None = None,
    ) -> None:
        """Store the status code of every row and the message of every failed row.

        `status_codes` replace the names given at the start where given (code 0 "ok").
        """
        objects = self._root["objects"]
        if status_codes is not None:
            check_status_codes(status_codes)
            objects.attrs["status_codes"] = list(status_codes)
        write_rows(objects["status"], 0, np.asarray(status, dtype=OBJECT_COLUMNS["status"]))
        objects.attrs["failures"] = [[int(row), msg] for row, msg in sorted(failures.items())]

    @reports_full_disk
    def update_attrs(self, **values: Any) -> None:  # noqa: ANN401
        """Add or replace catalog attributes (JSON-serialisable values)."""
        self._root.attrs.update(values)

    @reports_full_disk
    def commit(self) -> Path:
        """Move the finished catalog into place, replacing an older one, and return its path.

        A failure throws the new catalog away and leaves the older one as it was.
        """
        try:
            self._tmp.swap_in()
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Throw the unfinished catalog away."""
        self._tmp.remove()

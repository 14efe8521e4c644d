"""Add rows at the end of a catalog without rewriting it: a linked copy, extended, swapped in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from store._catalog_writer import check_status_codes, write_objects, write_rows
from store._swap import PartialFolder, reports_full_disk
from store.catalog import PER_OBJECT_RUN_ARRAYS, Catalog
from store.errors import SchemaError, StoreError
from store.schema import OBJECT_COLUMNS, check_column, validate_columns

__all__ = ["CatalogAppender"]


def _link(source: str, target: str) -> None:
    """Hard-link a file into the copy (no bytes copied); copy it where links are impossible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _metadata_state(path: Path) -> dict[str, tuple[int, int, int]]:
    """Return the identity of every Zarr metadata file of a catalog.

    Every write to a catalog (a run created, an array written, attributes updated) creates or
    replaces one of them, so a different state means that someone wrote to the catalog.
    """
    return {
        str(meta.relative_to(path)): (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        for meta in path.rglob("zarr.json")
        for stat in (meta.stat(),)
    }


class CatalogAppender:
    """Add objects at the end of a catalog; the catalog stays as it was until `commit`.

    The catalog is copied into a temporary folder as hard links (no image is copied), the copy
    is extended, and `commit` puts it in place as `CatalogWriter.commit` does (a `CatalogSink`;
    a full disk raises `DiskFullError`, the `Catalog.catalog_id` is kept). Zarr writes
    every chunk and metadata file to a new file that it renames over the old name, so writing
    into the copy never changes a file it shares with the catalog. Existing rows keep their
    index, their values and their images, except that `link` gives an existing row without a
    counterpart its new one. Every run's per-object arrays (`PER_OBJECT_RUN_ARRAYS`) grow with
    NaN for the new rows (not predicted); the runs' lists of rows (``train_index``) stay.

    Parameters
    ----------
    path
        The `catalog.zarr` folder.
    columns
        Object columns of the new rows, validated against `store.schema.OBJECT_COLUMNS`.

    Raises
    ------
    StoreNotFoundError
        If there is no catalog at `path`.
    SchemaError
        If the catalog or the new columns do not match the schema.
    """

    def __init__(self, path: Path | str, columns: Mapping[str, np.ndarray]) -> None:
        self.path = Path(path)
        catalog = Catalog(self.path, mode="r")
        self.first = len(catalog)
        self.stop = self.first + validate_columns(columns)
        old = catalog.columns()
        self.columns = {
            name: np.concatenate([old[name], np.asarray(columns[name]).astype(dtype)])
            for name, dtype in OBJECT_COLUMNS.items()
        }
        self._status_codes = catalog.status_codes
        self._failures = catalog.failures
        self._state = _metadata_state(self.path)
        self._tmp = PartialFolder(self.path)
        try:
            self._root = self._extend()
        except BaseException:
            self.abort()
            raise

    @reports_full_disk
    def _extend(self) -> zarr.Group:
        """Copy the catalog as links; grow its images and runs' per-object arrays (runs: NaN)."""
        shutil.copytree(self.path, self._tmp.path, copy_function=_link, dirs_exist_ok=True)
        root = zarr.open_group(self._tmp.path, mode="r+")
        images = root["images"]
        images.resize((self.stop, *images.shape[1:]))
        runs = root.get("runs")
        for run in runs.group_values() if runs is not None else ():
            for name in PER_OBJECT_RUN_ARRAYS:
                if name in run:
                    array = run[name]
                    array.resize((self.stop, *array.shape[1:]))
                    write_rows(
                        array, self.first, np.full((len(self.rows), *array.shape[1:]), np.nan)
                    )
        return root

    @property
    def rows(self) -> range:
        """The new rows."""
        return range(self.first, self.stop)

    @reports_full_disk
    def write_images(self, start: int, images: np.ndarray) -> None:
        """Write a block of new rows' images from row `start`."""
        if start < self.first or start + len(images) > self.stop:
            msg = f"rows {start}-{start + len(images) - 1} are not new rows ({self.rows})"
            raise SchemaError(msg)
        write_rows(self._root["images"], start, images)

    def set_column(self, name: str, values: np.ndarray) -> None:
        """Set one column of the new rows (e.g. `sets`, known only after the images are cut)."""
        check_column(name)
        self.columns[name][self.first :] = values

    def set_status(
        self,
        status: np.ndarray,
        failures: Mapping[int, str],
        status_codes: Sequence[str] | None = None,
    ) -> None:
        """Store the new rows' status codes and failure messages (by row).

        `status_codes` are the catalog's, possibly with names added at the end (the
        catalog's where not given).
        """
        status_codes = self._status_codes if status_codes is None else status_codes
        check_status_codes(status_codes)
        if tuple(status_codes[: len(self._status_codes)]) != self._status_codes:
            msg = f"status codes {list(status_codes)} must extend {list(self._status_codes)}"
            raise SchemaError(msg)
        if any(row not in self.rows for row in failures):
            msg = f"failures of rows other than the new rows {self.rows}"
            raise SchemaError(msg)
        self.columns["status"][self.first :] = status
        self._status_codes = tuple(status_codes)
        self._failures = {**self._failures, **failures}

    def link(self, rows: np.ndarray, partners: np.ndarray, *, carried: Sequence[str] = ()) -> None:
        """Match existing rows that have no counterpart with new rows.

        Parameters
        ----------
        rows
            Existing rows without a counterpart (``match_index`` -1).
        partners
            Their new counterparts, one per row.
        carried
            Columns that the existing rows take from their counterparts (what belongs to the
            galaxy, not to one survey's view of it, e.g. its Galaxy Zoo votes).
        """
        rows, partners = np.asarray(rows, dtype=np.int64), np.asarray(partners, dtype=np.int64)
        match = self.columns["match_index"]
        if (rows >= self.first).any() or (match[rows] >= 0).any() or (partners < self.first).any():
            msg = "only existing rows without a counterpart can be linked, and only to new rows"
            raise SchemaError(msg)
        match[rows], match[partners] = partners, rows
        for name in carried:
            check_column(name)
            self.columns[name][rows] = self.columns[name][partners]

    @reports_full_disk
    def update_attrs(self, **values: Any) -> None:  # noqa: ANN401
        """Add or replace catalog attributes (JSON-serialisable values)."""
        self._root.attrs.update(values)

    @reports_full_disk
    def commit(self) -> Path:
        """Put the extended catalog in place in one step and return its path.

        Raises
        ------
        StoreError
            If something wrote to the catalog since this appender copied it (a run, say):
            nothing is added, and adding again starts from the catalog as it is now.
        DiskFullError
            If the disk filled up: nothing is added.
        """
        try:
            write_objects(self._root, self.columns, self._status_codes, self._failures)
            self._check_unchanged()
            self._tmp.swap_in()
        except BaseException:
            self.abort()
            raise
        return self.path

    def _check_unchanged(self) -> None:
        """Raise `StoreError` if something wrote to the catalog since it was copied."""
        if _metadata_state(self.path) != self._state:
            msg = (
                f"{self.path} was written to (a run saved?) while objects were added to it;"
                " nothing was added: add them again"
            )
            raise StoreError(msg)

    def abort(self) -> None:
        """Throw the extended copy away."""
        self._tmp.remove()

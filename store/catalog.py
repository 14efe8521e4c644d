"""The Zarr catalog: object columns, images and runs, written atomically.

Layout (one Zarr v3 group)::

    catalog.zarr/
      objects/<column>      1-D arrays of length N (see `store.schema.OBJECT_COLUMNS`)
      images                uint8 (N, S, S, 3), chunked along N
      runs/<run>/           attrs: config, parent, created, metrics; arrays: probs, features, ...
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from store._swap import recover, swap_in
from store.errors import RunExistsError, SchemaError, StoreNotFoundError
from store.runs import check_run_name
from store.schema import (
    COLUMN_DEFAULTS,
    IMAGE_STATUSES,
    OBJECT_COLUMNS,
    RUN_ARRAYS,
    SCHEMA_VERSION,
    check_column,
    utc_now,
    validate_columns,
)

__all__ = ["IMAGE_CHUNK", "PER_OBJECT_RUN_ARRAYS", "ROW_CHUNK", "Catalog", "Run"]

logger = logging.getLogger(__name__)

IMAGE_CHUNK = 64
"""Images per chunk: one chunk read costs ~1 ms, so never store one image per chunk."""
ROW_CHUNK = 1 << 16
"""Rows per chunk of the columns and run arrays."""
PER_OBJECT_RUN_ARRAYS = tuple(name for name, (_, width) in RUN_ARRAYS.items() if width != 0)
"""Run arrays with one row per catalog row (probs, features, embedding); the 1-D ones are lists
of rows (``train_index``) or of their labels."""


def _check_rows(name: str, array: np.ndarray, catalog: Path) -> None:
    """Raise if a per-object run array does not have one row per catalog row (as it is now)."""
    rows = zarr.open_array(catalog / "objects" / "object_id", mode="r").shape[0]
    if len(array) != rows:
        msg = (
            f"run array {name!r} has {len(array)} rows but {catalog} has {rows}: objects were"
            " added to the catalog ('galcore curate --add') while this step ran; run it again"
        )
        raise SchemaError(msg)


class Run:
    """One training run inside the catalog: its attributes and its per-object arrays."""

    def __init__(self, group: zarr.Group, name: str, path: Path) -> None:
        self._group = group
        self.name = name
        self.path = path

    @property
    def attrs(self) -> dict[str, Any]:
        """Config, parent, created, metrics and anything else recorded for the run."""
        return dict(self._group.attrs)

    def update_attrs(self, **values: Any) -> None:  # noqa: ANN401
        """Add or replace attributes (JSON-serialisable values)."""
        self._group.attrs.update(values)

    def has(self, name: str) -> bool:
        """Return whether the run holds the array `name`."""
        return name in self._group

    def read(self, name: str) -> np.ndarray:
        """Return the array `name`; raises `StoreNotFoundError` if the run has none."""
        return self.read_rows(name, slice(None))

    def read_rows(self, name: str, rows: slice | np.ndarray) -> np.ndarray:
        """Return some rows of the array `name`: a slice, or sorted row numbers.

        Only the chunks holding them are read, so a task reads its block and a sample its
        rows without loading the whole array. Raises `StoreNotFoundError` if there is none.
        """
        if name not in self._group:
            msg = f"run {self.name!r} has no {name!r} array yet; run the step that writes it"
            raise StoreNotFoundError(msg)
        array = self._group[name]
        return array[rows] if isinstance(rows, slice) else array.oindex[np.asarray(rows)]

    def write(self, name: str, values: np.ndarray) -> None:
        """Write (or replace) the array `name`, checking it against `RUN_ARRAYS`.

        A per-object array (`PER_OBJECT_RUN_ARRAYS`) must have one row per catalog row, as the
        catalog is now: a step that read it before objects were added must run again. The
        array is written aside and then moved into place, so a reader (or a crash) never sees
        a half-written array.
        """
        if name not in RUN_ARRAYS:
            msg = f"unknown run array {name!r}; allowed: {', '.join(RUN_ARRAYS)}"
            raise SchemaError(msg)
        dtype, width = RUN_ARRAYS[name]
        array = np.asarray(values).astype(dtype, copy=False)
        expected_ndim = 1 if width == 0 else 2
        if array.ndim != expected_ndim or (width and array.shape[1] != width):
            msg = f"run array {name!r} has shape {array.shape}; expected {expected_ndim}-D"
            msg += f" with {width} columns" if width else ""
            raise SchemaError(msg)
        if name in PER_OBJECT_RUN_ARRAYS:
            _check_rows(name, array, self.path.parents[1])
        partial = f"{name}.partial-{uuid.uuid4().hex}"
        chunks = (max(1, min(len(array), ROW_CHUNK)), *array.shape[1:])
        self._group.create_array(
            partial, shape=array.shape, dtype=dtype, chunks=chunks, overwrite=True
        )[...] = array
        swap_in(self.path / partial, self.path / name)


class Catalog:
    """A curated catalog opened from its Zarr folder.

    Parameters
    ----------
    path
        The `catalog.zarr` folder.
    mode
        ``"r"`` to read, ``"r+"`` to add runs.

    Raises
    ------
    StoreNotFoundError
        If there is no catalog at `path`.
    SchemaError
        If the catalog was written with another schema version or lacks columns.

    Opening first repairs what a writer that crashed left beside the catalog (`store._swap`).
    """

    def __init__(self, path: Path | str, *, mode: str = "r+") -> None:
        self.path = Path(path)
        try:
            recover(self.path)
        except OSError as error:  # a read-only workspace, say: open what is there
            logger.warning("could not clean up beside %s: %s", self.path, error)
        if not (self.path / "zarr.json").is_file():
            msg = f"no catalog at {self.path}; run 'galcore curate' (or 'galcore demo') first"
            raise StoreNotFoundError(msg)
        self._root = zarr.open_group(self.path, mode=mode)
        version = self._root.attrs.get("schema_version")
        if version != SCHEMA_VERSION:
            msg = f"{self.path} has schema version {version}; this code reads {SCHEMA_VERSION}"
            raise SchemaError(msg)
        self._objects = self._root["objects"]
        validate_columns({name: self._objects[name] for name in self._objects.array_keys()})

    def __len__(self) -> int:
        return int(self._objects["object_id"].shape[0])

    @property
    def attrs(self) -> dict[str, Any]:
        """Catalog attributes: provenance of the curation, sizes, thresholds."""
        return dict(self._root.attrs)

    @property
    def catalog_id(self) -> str:
        """The identity of this catalog: new for every full curation, kept by additions.

        Row numbers mean the same objects for as long as the identity is the same (an addition
        only appends rows); a page built on another identity must be reloaded before deciding.
        """
        return str(self._root.attrs.get("catalog_id", ""))

    @property
    def image_size(self) -> int:
        """Side of the square images in pixels."""
        return int(self.images.shape[1])

    @property
    def images(self) -> zarr.Array:
        """The uint8 (N, S, S, 3) image array."""
        return self._root["images"]

    @property
    def status_codes(self) -> tuple[str, ...]:
        """Status names; `objects/status` indexes this tuple, code 0 is "ok"."""
        return tuple(self._objects.attrs["status_codes"])

    @property
    def failures(self) -> dict[int, str]:
        """Row -> message for every object that could not be curated."""
        return {int(row): message for row, message in self._objects.attrs["failures"]}

    def column(self, name: str) -> np.ndarray:
        """Return one object column as a NumPy array (its default where the catalog predates it)."""
        check_column(name)
        if name not in self._objects:
            return np.full(len(self), COLUMN_DEFAULTS[name], dtype=OBJECT_COLUMNS[name])
        return self._objects[name][...]

    def columns(self, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Return several object columns (all of them by default)."""
        return {name: self.column(name) for name in (names or OBJECT_COLUMNS)}

    def ok(self) -> np.ndarray:
        """Return the boolean mask of the rows that were curated successfully."""
        return self.column("status") == 0

    def usable(self) -> np.ndarray:
        """Return the boolean mask of the rows with an image: status ``ok`` or ``partial``.

        These are the rows to train on and predict; the test sets hold ``ok`` rows only.
        """
        codes = [k for k, name in enumerate(self.status_codes) if name in IMAGE_STATUSES]
        return np.isin(self.column("status"), codes)

    def read_images(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """Return the images of the given rows, in that order, as uint8 (n, S, S, 3).

        The rows are read in one batched request (zarr fetches their chunks concurrently); to
        read many neighbouring rows, slice `images` instead.
        """
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        images = np.empty((len(rows), *self.images.shape[1:]), dtype=np.uint8)
        if len(rows):
            images[order] = self.images.oindex[rows[order]]
        return images

    def runs(self) -> list[str]:
        """Names of the runs, oldest first."""
        if "runs" not in self._root:
            return []
        groups = [(self.run(name).attrs.get("created", ""), name) for name in self._runs_group()]
        return [name for _, name in sorted(groups)]

    def run(self, name: str) -> Run:
        """Return the run `name`; raises `StoreNotFoundError` if there is none."""
        runs = self._root.get("runs")
        if runs is None or name not in runs:
            known = ", ".join(runs.group_keys()) if runs is not None else ""
            known = known or "none yet"
            msg = f"no run {name!r} in {self.path} (runs: {known}); train it with 'galcore train'"
            raise StoreNotFoundError(msg)
        return Run(runs[name], name, self.path / "runs" / name)

    def create_run(self, name: str, **attrs: Any) -> Run:  # noqa: ANN401
        """Create a new run with its attributes; runs are never overwritten."""
        check_run_name(name)
        runs = self._runs_group()
        if name in runs:
            msg = f"run {name!r} exists in {self.path}; choose another name with --run"
            raise RunExistsError(msg)
        group = runs.create_group(name)
        group.attrs.update({"created": utc_now(), **attrs})
        return Run(group, name, self.path / "runs" / name)

    def _runs_group(self) -> zarr.Group:
        if "runs" not in self._root:
            return self._root.create_group("runs")
        return self._root["runs"]

"""The catalog schema: array names, dtypes, code tables and the label classes.

Every package imports the label classes, sets and surveys from here, so that training, prediction,
the dashboard and the store agree on what `label == 1` means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from store.errors import SchemaError

__all__ = [
    "COLUMN_DEFAULTS",
    "IMAGE_STATUSES",
    "LABELS",
    "NO_LABEL",
    "OBJECT_COLUMNS",
    "RUN_ARRAYS",
    "SCHEMA_VERSION",
    "SETS",
    "STATUS_OK",
    "SURVEYS",
    "check_column",
    "set_mask",
    "sets_code",
    "utc_now",
    "validate_columns",
]

SCHEMA_VERSION = 1

LABELS: tuple[str, ...] = ("elliptical", "spiral")
"""Class names; the label of an object is an index into this tuple (-1 for none)."""
NO_LABEL = -1

SURVEYS: tuple[str, ...] = ("sdss", "des")
"""Survey names; `objects/survey` holds an index into this tuple."""

SETS: tuple[str, ...] = ("train", "val", "hp_test", "fo_test", "unlabelled")
"""Data sets; `objects/sets` holds bit k for SETS[k], so an object may be in several."""

STATUS_OK = "ok"
IMAGE_STATUSES: tuple[str, ...] = (STATUS_OK, "partial")
"""Statuses of the objects that have an image: whole cutouts (``ok``) and cutouts that run off
every frame or tile by at most the allowed fraction (``partial``). Both are used for training and
prediction; the test sets hold ``ok`` objects only."""

OBJECT_COLUMNS: Mapping[str, np.dtype] = {
    "object_id": np.dtype("int64"),
    "survey": np.dtype("uint8"),
    "ra": np.dtype("float64"),
    "dec": np.dtype("float64"),
    "label": np.dtype("int8"),
    "gz_p_el": np.dtype("float32"),
    "gz_p_cs": np.dtype("float32"),
    "gz_nvote": np.dtype("int16"),
    "match_index": np.dtype("int64"),
    "radius": np.dtype("float32"),
    "mag_g": np.dtype("float32"),
    "mag_r": np.dtype("float32"),
    "mag_i": np.dtype("float32"),
    "sets": np.dtype("uint8"),
    "status": np.dtype("uint8"),
    "missing_fraction": np.dtype("float32"),
}
"""One 1-D array per column under `objects/`, all of the catalog's length.

`status` indexes the `status_codes` attribute of `objects/` (code 0 is "ok"); `match_index` is the
row of the same galaxy in the other survey (-1 for none); `radius` is the Petrosian radius (SDSS)
or the half-light radius (DES) in arcsec; `missing_fraction` is the share of the cutout that lies
off the image it was cut from (0 for a whole cutout, NaN where the object failed for another
reason than lying off its images); missing numbers are NaN.
"""

COLUMN_DEFAULTS: Mapping[str, float] = {"missing_fraction": 0.0}
"""Columns added after the first catalogs, with the value they have in a catalog written without
them (its objects were all whole cutouts); reading and writing fill them in."""

RUN_ARRAYS: Mapping[str, tuple[np.dtype, int | None]] = {
    "probs": (np.dtype("float32"), len(LABELS)),
    "features": (np.dtype("float32"), None),
    "embedding": (np.dtype("float32"), 3),
    "train_index": (np.dtype("int64"), 0),
    "train_label": (np.dtype("int8"), 0),
}
"""Arrays a run may hold: dtype and the width of the second axis (0: 1-D, None: any width)."""


def check_column(name: str) -> None:
    """Raise `SchemaError` if `name` is not one of `OBJECT_COLUMNS`."""
    if name not in OBJECT_COLUMNS:
        msg = f"unknown column {name!r}; columns: {', '.join(OBJECT_COLUMNS)}"
        raise SchemaError(msg)


def utc_now() -> str:
    """Return the current UTC time as ISO 8601 to the second, as every record stamps it."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def sets_code(names: Iterable[str]) -> int:
    """Return the bit code of the given set names."""
    code = 0
    for name in names:
        if name not in SETS:
            msg = f"unknown set {name!r}; the sets are {', '.join(SETS)}"
            raise SchemaError(msg)
        code |= 1 << SETS.index(name)
    return code


def set_mask(sets: np.ndarray, name: str) -> np.ndarray:
    """Return a boolean mask of the rows whose `sets` code contains the set `name`."""
    return (sets & sets_code([name])) != 0


def validate_columns(columns: Mapping[str, Any]) -> int:
    """Check column names, dtypes and lengths against `OBJECT_COLUMNS`; return the length.

    The columns of `COLUMN_DEFAULTS` may be absent.

    Raises
    ------
    SchemaError
        Listing every missing, unexpected or mistyped column and the allowed names.
    """
    problems = [
        f"missing column {name!r}"
        for name in OBJECT_COLUMNS
        if name not in columns and name not in COLUMN_DEFAULTS
    ]
    problems += [f"unexpected column {name!r}" for name in columns if name not in OBJECT_COLUMNS]
    lengths = set()
    for name, values in columns.items():
        if name not in OBJECT_COLUMNS:
            continue
        array = values if hasattr(values, "dtype") else np.asarray(values)
        lengths.add(array.shape[0] if array.ndim else 0)
        if array.ndim != 1:
            problems.append(f"column {name!r} has {array.ndim} dimensions, not 1")
        if not np.can_cast(array.dtype, OBJECT_COLUMNS[name], casting="same_kind"):
            problems.append(f"column {name!r} has dtype {array.dtype}, not {OBJECT_COLUMNS[name]}")
    if len(lengths) > 1:
        problems.append(f"columns differ in length: {sorted(lengths)}")
    if problems:
        msg = f"{'; '.join(problems)} (allowed columns: {', '.join(OBJECT_COLUMNS)})"
        raise SchemaError(msg)
    return lengths.pop() if lengths else 0

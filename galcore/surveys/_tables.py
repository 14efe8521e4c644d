"""Catalog tables (CSV) read the same way for every survey, refusing what cannot be used."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from galcore.errors import CurationError

__all__ = ["read_table"]

logger = logging.getLogger(__name__)


def _line_numbers(path: Path, comment: str | None) -> list[int]:
    """Return the 1-based file line of each data row: blank, comment and header lines skipped."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        numbers = [
            number
            for number, line in enumerate(lines, start=1)
            if line.strip() and not (comment and line.lstrip().startswith(comment))
        ]
    return numbers[1:]


def _drop_repeated(table: pd.DataFrame, key: str, path: Path, comment: str | None) -> pd.DataFrame:
    """Drop rows that repeat an earlier row exactly; raise for a `key` repeated otherwise."""
    exact = table.duplicated(keep="first").to_numpy()
    if exact.any():
        logger.info(
            "%s: rows repeating an earlier row exactly, dropped: %d", path.name, exact.sum()
        )
        table = table[~exact]
    repeated = table.duplicated(key, keep=False).to_numpy()
    if not repeated.any():
        return table
    first = int(repeated.argmax())
    value = table[key].iloc[first]
    second = first + 1 + int((table[key].iloc[first + 1 :] == value).to_numpy().argmax())
    lines = _line_numbers(path, comment)
    positions = np.flatnonzero(~exact)[[first, second]]
    msg = (
        f"{path}: {key} {value} appears on lines {lines[positions[0]]} and"
        f" {lines[positions[1]]} with different values; keep one row per {key}"
    )
    raise CurationError(msg)


def read_table(
    path: Path,
    required: Sequence[str],
    *,
    kind: str,
    fix: str,
    numeric: Sequence[str] = (),
    key: str | None = None,
    comment: str | None = "#",
) -> pd.DataFrame:
    """Read a CSV table and check it holds rows, the `required` columns and numbers.

    Parameters
    ----------
    path
        The CSV file.
    required
        Columns the table must have.
    kind
        What the table is, for messages (e.g. ``"DES catalog"``).
    fix
        What to do when a column is missing (e.g. which query gives them).
    numeric
        Columns that must hold numbers in every row.
    key
        The column that identifies a row, if any: a row that repeats an earlier one exactly is
        dropped (and logged); a key repeated with other values is refused.
    comment
        Lines starting with it are skipped.

    Returns
    -------
    pandas.DataFrame
        The table, its `numeric` columns as numbers, one row per `key`.

    Raises
    ------
    CurationError
        One line naming the file and, where it applies, the column and line: for a file that
        is not CSV, a missing column, no rows, a value that is not a number, or a `key` that
        appears twice with different values.
    """
    try:
        table = pd.read_csv(path, skipinitialspace=True, comment=comment)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        msg = f"{path}: cannot read the {kind} as a CSV table ({error})"
        raise CurationError(msg) from error
    missing = [name for name in required if name not in table.columns]
    if missing:
        msg = f"{path}: missing {kind} columns {missing}; {fix}"
        raise CurationError(msg)
    if table.empty:
        msg = f"{path}: the {kind} holds no rows, only a header; export it again with its objects"
        raise CurationError(msg)
    for name in numeric:
        if pd.api.types.is_numeric_dtype(table[name]):
            continue
        values = pd.to_numeric(table[name], errors="coerce")
        bad = values.isna().to_numpy() & table[name].notna().to_numpy()
        if bad.any():
            row = int(bad.argmax())
            line = _line_numbers(path, comment)[row]
            msg = (
                f"{path}: {kind} row {row + 1} (line {line}): {name}"
                f" {table[name].iloc[row]!r} is not a number; correct or remove that row"
            )
            raise CurationError(msg)
        table[name] = values
    return table if key is None else _drop_repeated(table, key, path, comment)

"""Catalog tables (CSV) read the same way for every survey, refusing what cannot be used."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from galcore.errors import CurationError

__all__ = ["read_table"]


def read_table(
    path: Path,
    required: Sequence[str],
    *,
    kind: str,
    fix: str,
    numeric: Sequence[str] = (),
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
    comment
        Lines starting with it are skipped.

    Returns
    -------
    pandas.DataFrame
        The table, its `numeric` columns as numbers.

    Raises
    ------
    CurationError
        One line naming the file and, where it applies, the column and line: for a file that
        is not CSV, a missing column, no rows, or a value that is not a number.
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
            msg = (
                f"{path}: {kind} row {row + 1} (line {row + 2}): {name}"
                f" {table[name].iloc[row]!r} is not a number; correct or remove that row"
            )
            raise CurationError(msg)
        table[name] = values
    return table

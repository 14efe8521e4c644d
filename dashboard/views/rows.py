"""Which catalog rows a box, a lasso or a tap picks in a frame, and stable bounded samples.

A frame is plot data: `ReviewSession.points`, or any mapping of equal-length columns, with the
catalog rows, ascending, in ``row``. Every function is vectorised over the frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.path import Path

__all__ = [
    "LASSO_TOLERANCE",
    "Frame",
    "as_table",
    "nearest_row",
    "row_positions",
    "rows_in_bounds",
    "rows_in_lasso",
    "simplify_polygon",
    "stable_sample",
]

Frame = pd.DataFrame | Mapping[str, np.ndarray]
"""Plot data: columns by name, ``row`` holding ascending catalog rows."""

LASSO_TOLERANCE = 1e-3
"""How far (a fraction of the lasso's larger extent) a simplified lasso may stray from the drawn
one: well under a pixel of the plot the lasso was drawn on."""

_EMPTY = np.array([], dtype=np.int64)


def as_table(frame: Frame) -> pd.DataFrame:
    """Return `frame` as a DataFrame whose text columns are categoricals (for datashader)."""
    if isinstance(frame, pd.DataFrame):
        return frame
    columns = {name: np.asarray(values) for name, values in frame.items()}
    return pd.DataFrame(
        {
            name: pd.Categorical(values) if values.dtype.kind in "OSU" else values
            for name, values in columns.items()
        }
    )


def row_positions(frame: Frame, rows: np.ndarray) -> np.ndarray:
    """Return the positions in `frame` of those of the catalog `rows` that it holds."""
    all_rows = np.asarray(frame["row"])
    if not len(all_rows):
        return _EMPTY
    at = np.searchsorted(all_rows, rows).clip(0, len(all_rows) - 1)
    return at[all_rows[at] == rows]


def rows_in_bounds(
    frame: Frame, x: str, y: str, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Return the catalog rows whose (`x`, `y`) lies in a box, edges included.

    Parameters
    ----------
    frame
        Plot data with columns `x`, `y` and ``row``.
    x, y
        The columns on the horizontal and vertical axes.
    bounds
        ``(left, bottom, right, top)`` as a box-select tool reports it (either order per axis).

    Returns
    -------
    numpy.ndarray
        The rows inside, ascending.
    """
    left, bottom, right, top = bounds
    xs, ys = np.asarray(frame[x]), np.asarray(frame[y])
    (x0, x1), (y0, y1) = sorted((left, right)), sorted((bottom, top))
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    return np.asarray(frame["row"])[inside]


def rows_in_lasso(frame: Frame, x: str, y: str, polygon: np.ndarray) -> np.ndarray:
    """Return the catalog rows whose (`x`, `y`) lies inside a polygon (a lasso).

    Parameters
    ----------
    frame
        Plot data with columns `x`, `y` and ``row``.
    x, y
        The columns on the horizontal and vertical axes.
    polygon
        (n, 2) vertices in data coordinates; the polygon is closed implicitly.

    Returns
    -------
    numpy.ndarray
        The rows inside (even-odd rule), ascending; none for fewer than three vertices. A
        point within `LASSO_TOLERANCE` of the lasso's extent from its edge may fall either way:
        the lasso is simplified first (`simplify_polygon`), as a drawn one has a vertex per
        mouse event.
    """
    polygon = np.asarray(polygon, dtype=float).reshape(-1, 2)
    if len(polygon) < 3:
        return _EMPTY
    xs, ys = np.asarray(frame[x]), np.asarray(frame[y])
    (x0, y0), (x1, y1) = polygon.min(axis=0), polygon.max(axis=0)
    near = np.flatnonzero((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))
    polygon = simplify_polygon(polygon, LASSO_TOLERANCE * max(x1 - x0, y1 - y0))
    inside = Path(polygon).contains_points(np.column_stack([xs[near], ys[near]]))
    return np.asarray(frame["row"])[near[inside]]


def _distances_to_segment(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Return the distance of each of `points` (n, 2) to the segment from `start` to `end`."""
    step = end - start
    length2 = float(step @ step)
    t = np.zeros(len(points)) if length2 == 0 else ((points - start) @ step / length2).clip(0, 1)
    return np.hypot(*(points - start - t[:, None] * step).T)


def simplify_polygon(polygon: np.ndarray, tolerance: float) -> np.ndarray:
    """Return a closed polygon's vertices simplified with the Douglas-Peucker algorithm.

    Every vertex left out lies within `tolerance` of the simplified outline, so a point
    farther than `tolerance` from the outline is inside one polygon exactly when it is inside
    the other.

    Parameters
    ----------
    polygon
        (n, 2) vertices; the polygon is closed implicitly.
    tolerance
        The largest distance allowed between a vertex left out and the simplified outline,
        in the vertices' units.

    Returns
    -------
    numpy.ndarray
        A subset of the vertices, in their order (the first one always kept).

    Examples
    --------
    >>> square = [[0, 0], [0.5, 0.001], [1, 0], [1, 1], [0, 1]]
    >>> simplify_polygon(np.array(square, dtype=float), 0.01).tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    """
    ring = np.vstack([polygon, polygon[:1]])
    keep = np.zeros(len(ring), dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, len(ring) - 1)]
    while spans:
        start, end = spans.pop()
        if end - start < 2:
            continue
        distance = _distances_to_segment(ring[start + 1 : end], ring[start], ring[end])
        farthest = int(np.argmax(distance))
        if distance[farthest] > tolerance:
            middle = start + 1 + farthest
            keep[middle] = True
            spans += [(start, middle), (middle, end)]
    return ring[keep][:-1]


def nearest_row(
    frame: Frame, x: str, y: str, point: tuple[float, float], radius: tuple[float, float]
) -> int | None:
    """Return the catalog row nearest to a point within an ellipse, or None.

    Parameters
    ----------
    frame
        Plot data with columns `x`, `y` and ``row``.
    x, y
        The columns on the horizontal and vertical axes.
    point
        The tapped position in data coordinates.
    radius
        Half-axes of the search ellipse along `x` and `y` (a few pixels in data units).

    Returns
    -------
    int or None
        The row, or None if no point lies within the ellipse.
    """
    if not len(frame["row"]):
        return None
    dx = (np.asarray(frame[x]) - point[0]) / radius[0]
    dy = (np.asarray(frame[y]) - point[1]) / radius[1]
    distance = dx * dx + dy * dy
    nearest = int(np.argmin(distance))
    return int(np.asarray(frame["row"])[nearest]) if distance[nearest] <= 1 else None


def _keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """Return a pseudo-random uint64 key per row that depends only on the row and the seed."""
    key = rows.astype(np.uint64) + np.full(len(rows), seed, dtype=np.uint64)
    key *= np.uint64(0x9E3779B97F4A7C15)  # splitmix64's finaliser
    key ^= key >> np.uint64(30)
    key *= np.uint64(0xBF58476D1CE4E5B9)
    key ^= key >> np.uint64(27)
    key *= np.uint64(0x94D049BB133111EB)
    return key ^ (key >> np.uint64(31))


def stable_sample(rows: np.ndarray | Sequence[int], size: int, *, seed: int = 0) -> np.ndarray:
    """Return at most `size` of `rows`, chosen pseudo-randomly but stably.

    Each row has a fixed random key (from the row and `seed`); the sample is the rows with the
    smallest keys, so a row of a smaller set that was in the sample of a larger one stays in.

    Parameters
    ----------
    rows
        Catalog rows, without repeats.
    size
        The most rows to return.
    seed
        Chooses the keys.

    Returns
    -------
    numpy.ndarray
        The chosen rows, ascending.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) > size:
        rows = rows[np.argpartition(_keys(rows, seed), size)[:size]]
    return np.sort(rows)

"""The HTML of the thumbnail grid's cells: the thumbnail and what is known about each galaxy.

Each cell is an ``<img>`` linked to ``/thumb/<row>.png`` (`dashboard.routes`), never an embedded
image, with the predicted class and its probability, the Galaxy Zoo vote fractions and label,
and the review status under it (who decided what, and why). Everything a person typed is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np

from dashboard.routes import thumbnail_url
from store import LABELS, NO_LABEL, STATE_NAMES, SURVEYS, Decision

__all__ = ["CELL_CSS", "THUMBNAIL_SIZE", "make_cell_html", "make_grid_html"]

THUMBNAIL_SIZE = 128
"""Width of a thumbnail in pixels."""

CELL_CSS = """
.grid {display: grid; grid-template-columns: repeat(auto-fill, minmax(148px, 1fr)); gap: 8px;}
.cell {border: 3px solid transparent; border-radius: 4px; padding: 2px; font-size: 12px;
  line-height: 1.3; overflow: hidden; background: #fafafa; cursor: pointer;}
.cell img {display: block; width: 128px; height: 128px; margin: 0 auto;
  image-rendering: pixelated;}
.cell.opened {border-color: #111;}
.cell .status {font-weight: bold;}
.cell.approve .status {color: #2e7d32;}
.cell.relabel .status, .cell.reject .status {color: #c62828;}
.cell.unsure .status {color: #ef6c00;} .cell.artefact .status {color: #616161;}
.cell .reason {color: #555; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.empty {color: #555;}
"""
"""The style of the grid and its cells: a frame for the opened one, a colour per decision."""


def _text(value: object) -> str:
    """Escape a value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _status_html(decision: Decision | None) -> str:
    """Describe a galaxy's decision in effect (who, what, why), escaped."""
    if decision is None:
        return '<div class="status">not reviewed</div>'
    label = decision.training_label
    given = "" if label is None else f" {LABELS[label]}"
    status = f"{STATE_NAMES[decision.decision]}{given} · {_text(decision.reviewer)}"
    reason = _text(decision.reason)
    return f'<div class="status">{status}</div>' + (
        f'<div class="reason" title="{reason}">{reason}</div>' if decision.reason else ""
    )


def make_cell_html(
    cell: Mapping[str, Any],
    decision: Decision | None,
    *,
    version: int | None = None,
    opened: bool = False,
) -> str:
    """Return one galaxy's cell: its thumbnail and what is known about it.

    Parameters
    ----------
    cell
        One row of a `dashboard.queues.queue_frame` (a value per column).
    decision
        The galaxy's decision in effect, or None.
    version
        The catalog's `data_version`, so browsers may keep the thumbnail.
    opened
        Whether this is the opened galaxy (it gets a frame).

    Returns
    -------
    str
        A ``div`` with ``data-row``; everything a person typed is escaped.
    """
    row, predicted = int(cell["row"]), int(cell["predicted"])
    name = f"{SURVEYS[int(cell['survey'])].upper()} {int(cell['object_id'])}"
    prediction = (
        f"<b>{LABELS[predicted]}</b> {float(cell['confidence']):.3f}"
        if predicted != NO_LABEL
        else "no prediction"
    )
    label = LABELS[int(cell["label"])] if cell["label"] != NO_LABEL else "no label"
    if np.isfinite(float(cell["gz_p_el"])):
        votes = f"GZ el {float(cell['gz_p_el']):.2f} · cs {float(cell['gz_p_cs']):.2f} · {label}"
    else:
        votes = "no Galaxy Zoo votes"
    state = decision.decision if decision else "none"
    url = thumbnail_url(row, size=THUMBNAIL_SIZE, version=version)
    return (
        f'<div class="cell {state}{" opened" if opened else ""}" data-row="{row}"'
        f' title="{name}, catalog row {row}">'
        f'<img src="{_text(url)}" alt="{name}" loading="lazy">'
        f"<div>{name}</div><div>{prediction}</div><div>{votes}</div>"
        f"{_status_html(decision)}</div>"
    )


def make_grid_html(
    frame: Mapping[str, np.ndarray],
    current: Mapping[int, Decision],
    *,
    version: int | None = None,
    opened: int | None = None,
) -> str:
    """Return the cells of a page as HTML.

    Parameters
    ----------
    frame
        The page's rows, a `dashboard.queues.queue_frame`.
    current
        The ledger's state (`store.Ledger.current`), for each galaxy's review status.
    version
        The catalog's `data_version`, for the thumbnails' URLs.
    opened
        The catalog row of the opened galaxy, framed if it is on the page.

    Returns
    -------
    str
        A ``div`` of cells, or a note that the page is empty.

    Examples
    --------
    >>> make_grid_html(session.queue_frame(), session.ledger.current())  # doctest: +SKIP
    """
    if not len(frame["row"]):
        return '<p class="empty">No galaxies here.</p>'
    cells = []
    for k in range(len(frame["row"])):
        cell = {name: values[k] for name, values in frame.items()}
        decision = current.get(int(cell["object_id"]))
        opens = int(cell["row"]) == opened
        cells.append(make_cell_html(cell, decision, version=version, opened=opens))
    return f'<div class="grid">{"".join(cells)}</div>'

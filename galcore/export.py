"""Export the catalog (and a run's predictions and reviews) as one CSV table."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from store import LABELS, SETS, SURVEYS, Workspace, set_mask

__all__ = ["catalog_table", "export_catalog"]

logger = logging.getLogger(__name__)


def _set_names(codes: np.ndarray) -> np.ndarray:
    """Join the set names of each object with ';'."""
    names = np.full(len(codes), "", dtype=object)
    for name in SETS:
        member = set_mask(codes, name)
        names[member] = [f"{n};{name}" if n else name for n in names[member]]
    return names


def _label_name(label: int | None) -> str:
    """Return the class name of a label, or '' for none (unsure, artefact, no decision)."""
    return "" if label is None else LABELS[label]


def catalog_table(workspace: Path, *, run: str | None = None) -> pd.DataFrame:
    """Return one row per object: identity, labels, sets, status and, with a run, predictions.

    Parameters
    ----------
    workspace
        The workspace folder.
    run
        A run with ``probs``; adds its predictions and the review decisions.

    Returns
    -------
    pandas.DataFrame
        Columns ``object_id, survey, ra, dec, label, gz_p_el, gz_p_cs, match_id, sets, status,
        missing_fraction, failure`` (``missing_fraction``: the share of the cutout off the
        images, above 0 for ``partial`` objects and those ``off_frame``) and, with a run,
        ``p_spiral, predicted`` and the latest review of each object (``decision,
        decision_label, decision_run``, whichever run it was about).
    """
    space = Workspace(workspace)
    catalog = space.catalog(mode="r")
    c = catalog.columns()
    failures = catalog.failures
    matched = c["match_index"] >= 0
    match_id = pd.array(np.where(matched, c["object_id"][c["match_index"]], 0), dtype="Int64")
    match_id[~matched] = pd.NA
    table = pd.DataFrame(
        {
            "object_id": c["object_id"],
            "survey": np.asarray(SURVEYS)[c["survey"]],
            "ra": c["ra"],
            "dec": c["dec"],
            "label": np.where(c["label"] >= 0, np.asarray(LABELS)[c["label"].clip(0)], ""),
            "gz_p_el": c["gz_p_el"],
            "gz_p_cs": c["gz_p_cs"],
            "match_id": match_id,
            "sets": _set_names(c["sets"]),
            "status": np.asarray(catalog.status_codes)[c["status"]],
            "missing_fraction": c["missing_fraction"],
            "failure": [failures.get(row, "") for row in range(len(c["object_id"]))],
        }
    )
    if run is not None:
        probs = catalog.run(run).read("probs")
        scored = np.isfinite(probs).all(axis=1)
        table["p_spiral"] = probs[:, LABELS.index("spiral")]
        table["predicted"] = np.where(
            scored, np.asarray(LABELS)[np.nan_to_num(probs).argmax(1)], ""
        )
        current = space.ledger().current()
        decisions = [current.get(i) for i in c["object_id"].tolist()]
        table["decision"] = [d.decision if d else "" for d in decisions]
        table["decision_label"] = [_label_name(d.training_label if d else None) for d in decisions]
        table["decision_run"] = [(d.run or "") if d else "" for d in decisions]
    return table


def export_catalog(workspace: Path, out: Path, *, run: str | None = None) -> int:
    """Write `catalog_table` to a CSV file atomically and return the number of rows."""
    table = catalog_table(workspace, run=run)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    table.to_csv(partial, index=False, float_format="%.6g")
    partial.replace(out)
    logger.info("wrote %d rows to %s", len(table), out)
    return len(table)

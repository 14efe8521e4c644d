"""A trained run of one workspace, brought into another to label and evaluate its catalog.

A model trained on one sky (or survey region) is meant to label others: `import_run` copies the
run's model into another workspace as a new run, with the provenance of where it was trained,
so that ``galcore predict``, ``evaluate``, ``embed``, ``export`` and the workbench use it on that
catalog as on a run trained there. The new run trained on none of the catalog's rows (its
``train_index`` is empty), so every test set of that catalog is unseen.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galcore.errors import TrainingError
from galcore.training import CONFIG_FILE, HISTORY_FILE, MODEL_FILE
from store import RunStatus, Workspace, check_run_name
from store.runs import PROVENANCE_ATTRS
from store.schema import RUN_ARRAYS

__all__ = ["CURATION_SETTINGS", "ImportedRun", "import_run"]

logger = logging.getLogger(__name__)

CURATION_SETTINGS = ("size", "field_arcsec", "stretch")
"""Curation settings that change what a model sees: image size, angular field, colour stretch."""

_COPIED_ATTRS = (*PROVENANCE_ATTRS, "metrics", "stage_epochs", "weights_sha256", "wall_time_s")


@dataclass(frozen=True)
class ImportedRun:
    """What `import_run` made.

    Parameters
    ----------
    run
        The new run's name in the target workspace.
    differences
        Curation settings (`CURATION_SETTINGS`) whose values differ between the two catalogs:
        name -> (source value, target value). Empty when the catalogs were curated alike.
    """

    run: str
    differences: dict[str, tuple[Any, Any]]


def import_run(
    source: Path | str, run: str, workspace: Path | str, *, name: str | None = None
) -> ImportedRun:
    """Copy the trained run `run` of workspace `source` into `workspace` as the run `name`.

    Parameters
    ----------
    source
        The workspace the run was trained in.
    run
        A trained run of `source`.
    workspace
        The workspace whose catalog the run is to label.
    name
        The new run's name (default: `run`), by the run-name rule.

    Returns
    -------
    ImportedRun
        The new run's name and how the two catalogs' curations differ.

    Raises
    ------
    StoreNotFoundError
        If either workspace has no catalog or `source` no run `run`.
    RunExistsError
        If `workspace` has a run `name` already.
    TrainingError
        If the run is not trained, its model file is missing, or `workspace` has a model
        folder for `name` already; nothing is written then.
    """
    source_space, target_space = Workspace(source), Workspace(workspace)
    name = check_run_name(name or run)
    source_catalog = source_space.catalog(mode="r")
    attrs = source_catalog.run(run).attrs
    if attrs.get("status") != RunStatus.TRAINED:
        msg = f"run {run!r} of {source_space.root} is {attrs.get('status')!r}, not trained"
        raise TrainingError(msg)
    model_dir = source_space.model_dir(run)
    if not (model_dir / MODEL_FILE).is_file():
        msg = f"run {run!r} has no model at {model_dir / MODEL_FILE}; train it first"
        raise TrainingError(msg)
    catalog = target_space.catalog()
    target_dir = target_space.model_dir(name)
    if target_dir.exists():
        msg = f"{target_dir} exists already; choose another name with --as"
        raise TrainingError(msg)
    differences = _curation_differences(source_catalog.attrs, catalog.attrs)
    _copy_model(model_dir, target_dir)
    try:
        new = catalog.create_run(
            name,
            **{key: attrs[key] for key in _COPIED_ATTRS if key in attrs},
            status=RunStatus.TRAINED.value,
            imported_from={
                "workspace": str(source_space.root.resolve()),
                "run": run,
                "catalog_id": source_catalog.catalog_id,
                "curation_differences": {k: list(v) for k, v in differences.items()},
            },
        )
        for array in ("train_index", "train_label"):
            new.write(array, np.zeros(0, dtype=RUN_ARRAYS[array][0]))
    except BaseException:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise
    for key, (was, now) in differences.items():
        logger.warning(
            "run %s was trained on a catalog with %s %s; this one has %s", run, key, was, now
        )
    return ImportedRun(name, differences)


def _curation_differences(source: dict, target: dict) -> dict[str, tuple[Any, Any]]:
    """Return the curation settings whose values differ between two catalogs' attributes."""
    was, now = source.get("curation", {}), target.get("curation", {})
    return {
        key: (was.get(key), now.get(key))
        for key in CURATION_SETTINGS
        if was.get(key) != now.get(key)
    }


def _copy_model(model_dir: Path, target_dir: Path) -> None:
    """Copy the model, history and config into `target_dir`, which appears whole or not at all."""
    partial = target_dir.with_name(f".{target_dir.name}.partial-{uuid.uuid4().hex}")
    partial.mkdir(parents=True)
    try:
        for file in (MODEL_FILE, HISTORY_FILE, CONFIG_FILE):
            if (model_dir / file).is_file():
                shutil.copy2(model_dir / file, partial / file)
        partial.rename(target_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise

"""The dashboard's data: a run's predictions and embedding, the filters and the selection.

Loaded arrays are cached across sessions with `pn.cache` by pure loader functions keyed by the
workspace, the run and a data version (the modification time of the Zarr metadata), so a
rewritten catalog or embedding is read again. Plot objects are never cached across sessions.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param
from panel.viewable import Viewer

from store import LABELS, NO_LABEL, SETS, SURVEYS, Decision, StoreNotFoundError, Workspace, set_mask

__all__ = [
    "ALL_SURVEYS",
    "CATEGORY_COLUMNS",
    "NO_LABEL_NAME",
    "Galaxy",
    "GalaxyStore",
    "data_version",
    "embedded_runs",
    "load_objects",
    "load_predictions",
    "select_frame",
]

logger = logging.getLogger(__name__)

ALL_SURVEYS = "all"
"""The survey filter value that keeps every survey."""

NO_LABEL_NAME = "none"
"""How an object without a Galaxy Zoo label (or without a prediction) is named."""

CATEGORY_COLUMNS: tuple[str, ...] = ("predicted", "label", "survey")
"""Frame columns that hold category names, the choices for colouring the embedding."""

_OBJECT_COLUMNS = (
    "object_id",
    "survey",
    "ra",
    "dec",
    "label",
    "gz_p_el",
    "gz_p_cs",
    "gz_nvote",
    "sets",
    "status",
)
_RUN_ARRAYS = ("probs", "embedding")
_SELECTION = ("selected_ids", "selected_row")


def data_version(workspace: Workspace, run: str | None = None) -> int:
    """Return a number that changes whenever the catalog (or the run's arrays) is rewritten.

    Parameters
    ----------
    workspace
        The workspace whose catalog is read.
    run
        A run name, to include its `probs` and `embedding` arrays; None for the catalog only.

    Returns
    -------
    int
        The newest modification time, in nanoseconds, of the Zarr metadata files involved.
    """
    paths = [workspace.catalog_path / "zarr.json"]
    if run is not None:
        run_dir = workspace.catalog_path / "runs" / run
        paths += [run_dir / name / "zarr.json" for name in _RUN_ARRAYS]
    return max((path.stat().st_mtime_ns for path in paths if path.exists()), default=0)


def embedded_runs(workspace: Workspace) -> list[str]:
    """Return the names of the runs that have probabilities and an embedding, oldest first.

    Parameters
    ----------
    workspace
        The workspace to look in.

    Returns
    -------
    list of str
        Run names; empty if no run has been embedded yet.

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog.
    """
    catalog = workspace.catalog(mode="r")
    return [
        name
        for name in catalog.runs()
        if all(catalog.run(name).has(array) for array in _RUN_ARRAYS)
    ]


def _read_only(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mark cached arrays read-only, since every session shares them."""
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


@pn.cache(max_items=4)
def load_objects(root: str, version: int) -> dict[str, np.ndarray]:
    """Read the object columns the dashboard shows; cached across sessions.

    Parameters
    ----------
    root
        The workspace folder.
    version
        `data_version` of the catalog: part of the cache key, so a new catalog is read again.

    Returns
    -------
    dict of str to numpy.ndarray
        Read-only columns, one value per catalog row.
    """
    logger.info("reading the objects of %s (version %d)", root, version)
    return _read_only(Workspace(Path(root)).catalog(mode="r").columns(_OBJECT_COLUMNS))


@pn.cache(max_items=16)
def load_predictions(root: str, run: str, version: int) -> dict[str, np.ndarray]:
    """Read a run's probabilities and embedding and derive the predicted class; cached.

    Parameters
    ----------
    root
        The workspace folder.
    run
        The run name.
    version
        `data_version` of the run: part of the cache key.

    Returns
    -------
    dict of str to numpy.ndarray
        Read-only ``probs`` (N, n_classes), ``embedding`` (N, 3), ``predicted`` (the class
        index, `NO_LABEL` where there is no prediction) and ``valid`` (rows with both).
    """
    logger.info("reading run %s of %s (version %d)", run, root, version)
    stored = Workspace(Path(root)).catalog(mode="r").run(run)
    probs, embedding = (stored.read(name) for name in _RUN_ARRAYS)
    valid = np.isfinite(probs).all(axis=1) & np.isfinite(embedding).all(axis=1)
    predicted = np.where(valid, np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1), NO_LABEL)
    arrays = {"probs": probs, "embedding": embedding, "predicted": predicted, "valid": valid}
    return _read_only(arrays)


def _names(codes: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Return the category name of every code, `NO_LABEL_NAME` for negative codes."""
    lookup = np.array([*names, NO_LABEL_NAME])
    return lookup[np.where(codes < 0, len(names), codes)]


def select_frame(
    objects: dict[str, np.ndarray],
    predictions: dict[str, np.ndarray],
    *,
    survey: str = ALL_SURVEYS,
    misclassified_only: bool = False,
) -> dict[str, np.ndarray]:
    """Return the rows to plot: curated objects with a prediction that pass the filters.

    Parameters
    ----------
    objects
        Object columns from `load_objects`.
    predictions
        A run's arrays from `load_predictions`.
    survey
        A name from `store.SURVEYS`, or `ALL_SURVEYS`.
    misclassified_only
        Keep only objects with a Galaxy Zoo label that differs from the predicted class.

    Returns
    -------
    dict of str to numpy.ndarray
        ``row`` (catalog row), ``object_id``, ``x``, ``y``, ``z``, ``confidence`` (the predicted
        class's probability) and the category names ``predicted``, ``label`` and ``survey``.

    Raises
    ------
    ValueError
        If `survey` is not a known survey.
    """
    if survey not in (ALL_SURVEYS, *SURVEYS):
        msg = f"survey must be {ALL_SURVEYS!r} or one of {', '.join(SURVEYS)}, got {survey!r}"
        raise ValueError(msg)
    predicted, label = predictions["predicted"], objects["label"]
    keep = predictions["valid"] & (objects["status"] == 0)
    if survey != ALL_SURVEYS:
        keep &= objects["survey"] == SURVEYS.index(survey)
    if misclassified_only:
        keep &= (label != NO_LABEL) & (label != predicted)
    rows = np.flatnonzero(keep)
    x, y, z = predictions["embedding"][rows].T
    return {
        "row": rows,
        "object_id": objects["object_id"][rows],
        "x": x,
        "y": y,
        "z": z,
        "confidence": predictions["probs"][rows].max(axis=1),
        "predicted": _names(predicted[rows], LABELS),
        "label": _names(label[rows], LABELS),
        "survey": _names(objects["survey"][rows], SURVEYS),
    }


@dataclass(frozen=True)
class Galaxy:
    """What the dashboard shows about one catalog object.

    Parameters
    ----------
    row
        The catalog row.
    object_id
        The survey's object id.
    survey
        The survey name.
    ra, dec
        Coordinates in degrees.
    label
        The Galaxy Zoo label name, or `NO_LABEL_NAME`.
    gz_p_el, gz_p_cs
        Galaxy Zoo vote fractions for elliptical and combined spiral.
    gz_nvote
        Number of Galaxy Zoo votes.
    sets
        The data sets the object belongs to.
    probs
        The run's class probabilities (NaN where the object has no prediction).
    predicted
        The predicted class index, `NO_LABEL` where there is no prediction.
    """

    row: int
    object_id: int
    survey: str
    ra: float
    dec: float
    label: str
    gz_p_el: float
    gz_p_cs: float
    gz_nvote: int
    sets: tuple[str, ...]
    probs: tuple[float, ...]
    predicted: int

    @property
    def predicted_name(self) -> str:
        """The predicted class name, or `NO_LABEL_NAME`."""
        return LABELS[self.predicted] if self.predicted != NO_LABEL else NO_LABEL_NAME


def _galaxy(objects: dict[str, np.ndarray], predictions: dict[str, np.ndarray], row: int) -> Galaxy:
    """Collect one row of the objects and the predictions into a `Galaxy`."""
    sets = tuple(name for name in SETS if set_mask(objects["sets"][row], name))
    return Galaxy(
        row=row,
        object_id=int(objects["object_id"][row]),
        survey=SURVEYS[int(objects["survey"][row])],
        ra=float(objects["ra"][row]),
        dec=float(objects["dec"][row]),
        label=str(_names(objects["label"][row : row + 1], LABELS)[0]),
        gz_p_el=float(objects["gz_p_el"][row]),
        gz_p_cs=float(objects["gz_p_cs"][row]),
        gz_nvote=int(objects["gz_nvote"][row]),
        sets=sets,
        probs=tuple(float(p) for p in predictions["probs"][row]),
        predicted=int(predictions["predicted"][row]),
    )


def _default_reviewer() -> str:
    """Return the OS user name, the default reviewer."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"


class GalaxyStore(Viewer):
    """The loaded run, the filters, the selected galaxy and the review actions.

    Views read the derived attributes (`frame`, `count`, `galaxy`, `history`) and link to each
    other only through this object's parameters. Rendered, it shows the filter widgets.

    Parameters
    ----------
    workspace
        The workspace to show.
    **params
        Initial values of the other parameters, e.g. ``run="r1"``.

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog, or no run with an embedding.
    ValueError
        If `run` names a run without an embedding, or `selected_row` is not a catalog row.

    Examples
    --------
    >>> store = GalaxyStore(workspace=Workspace("ws"))  # doctest: +SKIP
    >>> store.misclassified_only = True  # doctest: +SKIP
    >>> store.count  # doctest: +SKIP
    3
    """

    color_by = param.Selector(
        default=CATEGORY_COLUMNS[0],
        objects=list(CATEGORY_COLUMNS),
        label="Colour by",
        doc="Which category colours the embedding: predicted class, Galaxy Zoo label or survey.",
    )
    ledger_state = param.Integer(
        default=0,
        bounds=(0, None),
        doc="Highest decision id in the review ledger; it changes after every recorded decision.",
    )
    misclassified_only = param.Boolean(
        default=False,
        doc="Show only objects with a Galaxy Zoo label that differs from the predicted class.",
    )
    reviewer = param.String(
        default=_default_reviewer(), doc="Who records the decisions (defaults to the OS user)."
    )
    run = param.Selector(
        default=None, objects=[], doc="The run whose predictions and embedding are shown."
    )
    selected_ids = param.List(
        default=[],
        item_type=int,
        doc="Object ids of the selected galaxies; follows `selected_row` and sets it.",
    )
    selected_row = param.Integer(
        default=None,
        allow_None=True,
        bounds=(0, None),
        doc="Catalog row of the galaxy shown in detail, or None when nothing is selected.",
    )
    survey = param.Selector(
        default=ALL_SURVEYS,
        objects=[ALL_SURVEYS, *SURVEYS],
        doc="Show the objects of one survey, or of all of them.",
    )
    workspace = param.ClassSelector(
        class_=Workspace, constant=True, doc="The workspace whose catalog and ledger are shown."
    )

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        selection = {name: params.pop(name) for name in _SELECTION if name in params}
        super().__init__(**params)
        runs = embedded_runs(self.workspace)
        if not runs:
            root = self.workspace.root
            msg = (
                f"no run with an embedding in {root}: run 'galcore predict' and 'galcore embed'"
                f" on a trained run, or 'galcore demo --workspace {root}' for a demo"
            )
            raise StoreNotFoundError(msg)
        if self.run is not None and self.run not in runs:
            msg = f"run must be one of the embedded runs ({', '.join(runs)}), got {self.run!r}"
            raise ValueError(msg)
        self._ledger = self.workspace.ledger()
        with param.parameterized.discard_events(self):
            self.param.run.objects = runs
            self.run = self.run or runs[-1]
        self.param.selected_row.bounds = (0, len(self._objects["object_id"]) - 1)
        self.ledger_state = self._ledger.state()
        self._on_filters()
        self.param.update(selection)

    @property
    def _root(self) -> str:
        """The workspace folder, as the loaders' cache key."""
        return str(self.workspace.root)

    @property
    def _objects(self) -> dict[str, np.ndarray]:
        """The cached object columns."""
        return load_objects(self._root, data_version(self.workspace))

    @property
    def _predictions(self) -> dict[str, np.ndarray]:
        """The cached arrays of the current run."""
        return load_predictions(self._root, self.run, data_version(self.workspace, self.run))

    @property
    def frame(self) -> dict[str, np.ndarray]:
        """The rows that pass the filters, as returned by `select_frame`."""
        return self._frame

    @property
    def count(self) -> int:
        """How many galaxies pass the filters."""
        return len(self._frame["row"])

    @property
    def galaxy(self) -> Galaxy | None:
        """The selected galaxy, or None."""
        if self.selected_row is None:
            return None
        return _galaxy(self._objects, self._predictions, self.selected_row)

    @property
    def history(self) -> list[Decision]:
        """Every decision about the selected galaxy, oldest first (empty without a selection)."""
        galaxy = self.galaxy
        return [] if galaxy is None else self._ledger.history(galaxy.object_id)

    def decide(self, decision: str, *, label: int | None = None) -> int:
        """Record a decision about the selected galaxy's predicted class in the ledger.

        Parameters
        ----------
        decision
            ``"approve"`` (the predicted class is right), ``"relabel"`` (it is wrong),
            ``"unsure"`` or ``"artefact"``.
        label
            The right class of a relabelled galaxy; by default the other class (there are
            two). Approvals take the predicted class; the other decisions take no label.

        Returns
        -------
        int
            The id of the new ledger row.

        Raises
        ------
        ValueError
            If no galaxy is selected, or the selected galaxy has no prediction in this run.
        SchemaError
            If the ledger refuses the decision (unknown decision or label, bad reviewer name).
        """
        galaxy = self.galaxy
        if galaxy is None:
            msg = f"select a galaxy before you {decision} its label"
            raise ValueError(msg)
        if galaxy.predicted == NO_LABEL:
            msg = f"galaxy {galaxy.object_id} has no prediction in run {self.run!r} to {decision}"
            raise ValueError(msg)
        if decision == "approve":
            label = galaxy.predicted
        elif decision == "relabel" and label is None:
            label = 1 - galaxy.predicted
        decision_id = self._ledger.record_decision(
            galaxy.object_id, decision, label=label, reviewer=self.reviewer, run=self.run
        )
        self.ledger_state = decision_id
        return decision_id

    @param.depends("misclassified_only", "run", "survey", watch=True)
    def _on_filters(self) -> None:
        """Select the rows that pass the filters."""
        self._frame = select_frame(
            self._objects,
            self._predictions,
            survey=self.survey,
            misclassified_only=self.misclassified_only,
        )

    @param.depends("selected_row", watch=True)
    def _on_selected_row(self) -> None:
        """Make `selected_ids` include the selected galaxy (and nothing when none is)."""
        row = self.selected_row
        if row is None:
            self.selected_ids = []
        elif (object_id := int(self._objects["object_id"][row])) not in self.selected_ids:
            self.selected_ids = [object_id]

    @param.depends("selected_ids", watch=True)
    def _on_selected_ids(self) -> None:
        """Show the first selected galaxy in detail, unless the shown one is selected."""
        rows = np.flatnonzero(np.isin(self._objects["object_id"], self.selected_ids)).tolist()
        if self.selected_row not in rows:
            self.selected_row = rows[0] if rows else None

    @param.depends("misclassified_only", "run", "survey")
    def _count_text(self) -> str:
        """Say how many galaxies are shown."""
        total = int(self._predictions["valid"].sum())
        return f"**{self.count}** of {total} galaxies shown"

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the filter widgets and the count."""
        stretch = {"sizing_mode": "stretch_width"}
        return pn.Column(
            pn.widgets.Select.from_param(self.param.run, **stretch),
            pn.widgets.RadioButtonGroup.from_param(self.param.survey, **stretch),
            pn.widgets.Checkbox.from_param(self.param.misclassified_only),
            pn.widgets.Select.from_param(self.param.color_by, **stretch),
            pn.pane.Markdown(self._count_text),
            **stretch,
        )

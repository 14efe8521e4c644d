"""The review side of `GalaxyStore`: recording decisions in the ledger, and their undo list.

A plain mixin: it declares no parameters and no `param.depends` watchers (param ignores both on a
class that is not `param.Parameterized`); `GalaxyStore` declares them.
"""

from __future__ import annotations

import numpy as np

from dashboard.data import Galaxy
from dashboard.queues import LABELLED
from store import NO_LABEL, Decision, Ledger, SchemaError

__all__ = ["StoreDecisions"]


class StoreDecisions:
    """Decisions about the store's galaxies, recorded in its ledger with an undo list.

    The host class (`GalaxyStore`) provides the parameters ``ledger_state``, ``reviewer`` and
    ``run``, the attributes ``_ledger`` (a `store.Ledger`) and ``undoable``, and the data of
    `dashboard._store_data.StoreData` (``_objects``, ``_predictions``, ``galaxy``).
    """

    _ledger: Ledger
    undoable: list[tuple[np.ndarray, list[int]]]
    _objects: dict[str, np.ndarray]
    _predictions: dict[str, np.ndarray]
    galaxy: Galaxy | None
    ledger_state: int
    reviewer: str
    run: str | None

    @property
    def ledger(self) -> Ledger:
        """The workspace's review ledger."""
        return self._ledger

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
            galaxy.object_id, decision, label=label, reviewer=self._reviewer(), run=self.run
        )
        self.undoable.append((np.array([galaxy.row], dtype=np.int64), [decision_id]))
        self.ledger_state = decision_id
        return decision_id

    def decide_rows(
        self, rows: np.ndarray | list[int], decision: str, *, reason: str = ""
    ) -> list[int]:
        """Record one decision about each galaxy of `rows`, all in one ledger transaction.

        Parameters
        ----------
        rows
            Catalog rows.
        decision
            ``"approve"`` (each galaxy's predicted class is right), ``"relabel"`` (it is the
            other class), ``"unsure"`` or ``"artefact"``.
        reason
            Why, as the reviewer typed it (stored as given).

        Returns
        -------
        list of int
            The new ledger rows' ids, in the order of `rows`.

        Raises
        ------
        ValueError
            If `rows` is empty, or a galaxy to approve or relabel has no prediction in this run.
        SchemaError
            If the ledger refuses the decisions (nothing is recorded then).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            msg = f"no galaxies to {decision}: choose at least one"
            raise ValueError(msg)
        object_ids = self._objects["object_id"][rows]
        labels = None
        if decision in LABELLED:
            predicted = self._predictions["predicted"][rows]
            if (missing := object_ids[predicted == NO_LABEL]).size:
                msg = f"galaxy {missing[0]} has no prediction in run {self.run!r} to {decision}"
                raise ValueError(msg)
            labels = (predicted if decision == "approve" else 1 - predicted).tolist()
        ids = self._ledger.record_decisions(
            object_ids.tolist(),
            decision,
            labels=labels,
            reviewer=self._reviewer(),
            run=self.run,
            reason=reason,
        )
        self.undoable.append((rows, ids))
        self.ledger_state = max(ids)
        return ids

    def retract(self, rows: np.ndarray | list[int], decision_ids: list[int]) -> list[int]:
        """Retract decisions (one about each galaxy of `rows`) in one ledger transaction.

        Parameters
        ----------
        rows
            Catalog rows, one per decision.
        decision_ids
            The ids of decisions in effect about those galaxies (from `decide_rows`).

        Returns
        -------
        list of int
            The retractions' ids.

        Raises
        ------
        SchemaError
            If a decision cannot be retracted (nothing is recorded then).
        """
        object_ids = self._objects["object_id"][np.asarray(rows, dtype=np.int64)]
        ids = self._ledger.record_decisions(
            object_ids.tolist(),
            "retract",
            reviewer=self._reviewer(),
            run=self.run,
            retracts=decision_ids,
        )
        self.ledger_state = max(ids)
        return ids

    def _reviewer(self) -> str:
        """Return the reviewer's name; raise SchemaError if none was given yet."""
        if not self.reviewer.strip():
            msg = (
                "reviewer must name who decided: type your name under 'Reviewer' first"
                " (it is recorded with every decision)"
            )
            raise SchemaError(msg)
        return self.reviewer

"""The review side of `ReviewSession`: recording decisions in the ledger, and their undo list.

A decision is about the galaxies a view showed (`Shown`: their object ids, the catalog they
came from and the ledger state they were shown at), never about row numbers read again at
click time: a catalog replaced since (another curation) is refused, one that only grew
(``curate --add``) keeps every id valid.

A plain mixin: it declares no parameters and no `param.depends` watchers (param ignores both on a
class that is not `param.Parameterized`); `ReviewSession` declares them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from store import (
    LABELLED,
    NO_LABEL,
    BulkOutcome,
    CatalogReplacedError,
    Decision,
    Ledger,
    SchemaError,
    Workspace,
)

__all__ = ["SessionDecisions", "Shown"]


class Shown(NamedTuple):
    """Galaxies as a view showed them: what a decision about them is recorded for."""

    catalog_id: str
    """The `store.Catalog.catalog_id` of the catalog they were read from."""
    ledger_state: int
    """The ledger state (`store.Ledger.state`) their review status was shown at."""
    object_ids: np.ndarray
    """Their object ids, in the order shown."""
    predicted: np.ndarray
    """Their predicted classes (`NO_LABEL` where the run has no prediction)."""

    def take(self, keep: np.ndarray) -> Shown:
        """Return the galaxies that a boolean mask (or index array) keeps."""
        return self._replace(object_ids=self.object_ids[keep], predicted=self.predicted[keep])


class SessionDecisions:
    """Decisions about the session's galaxies, recorded in its ledger with an undo list.

    The host class (`ReviewSession`) provides the parameters ``ledger_state``, ``reviewer``,
    ``run`` and ``workspace``, the attributes ``_ledger`` (a `store.Ledger`) and ``undoable``,
    and the data of `dashboard._session_data.SessionData` (``_objects``, ``_predictions``).
    """

    _ledger: Ledger
    _current_memo: tuple[int, dict[int, Decision]] | None = None
    opened: Shown | None = None
    """The opened galaxy as it was shown when it was opened (None when none is)."""
    undoable: list[tuple[list[int], list[int]]]
    _objects: dict[str, np.ndarray]
    _predictions: dict[str, np.ndarray]
    ledger_state: int
    reviewer: str
    run: str | None
    workspace: Workspace

    @property
    def ledger(self) -> Ledger:
        """The workspace's review ledger."""
        return self._ledger

    @property
    def current(self) -> dict[int, Decision]:
        """The decisions in effect at `ledger_state`: read once per ledger state, then shared."""
        memo = self._current_memo
        if memo is None or memo[0] != self.ledger_state:
            memo = (self.ledger_state, self._ledger.current(upto=self.ledger_state))
            self._current_memo = memo
        return memo[1]

    @property
    def history(self) -> list[Decision]:
        """Every decision about the opened galaxy, oldest first (empty without one)."""
        opened = self.opened
        return [] if opened is None else self._ledger.history(int(opened.object_ids[0]))

    def catalog_id(self) -> str:
        """Return the `store.Catalog.catalog_id` of the catalog on disk now."""
        return self.workspace.catalog(mode="r").catalog_id

    def show(self, rows: np.ndarray | list[int], catalog_id: str) -> Shown:
        """Return catalog rows as a view shows them now.

        Parameters
        ----------
        rows
            Catalog rows of the loaded data.
        catalog_id
            `catalog_id`, read before the data were (so a catalog replaced in between is
            refused later, never taken for the old one).
        """
        rows = np.asarray(rows, dtype=np.int64)
        return Shown(
            catalog_id,
            self.ledger_state,
            self._objects["object_id"][rows],
            self._predictions["predicted"][rows],
        )

    def decide(self, decision: str, *, label: int | None = None) -> int:
        """Record a decision about the opened galaxy's predicted class in the ledger.

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
            If no galaxy is opened, or the opened galaxy has no prediction in this run.
        CatalogReplacedError
            If the catalog was replaced since the galaxy was opened.
        StoreError
            If the ledger refuses the decision (`SchemaError`) or cannot save it
            (`store.LedgerError`); nothing is recorded then.
        """
        opened = self.opened
        if opened is None:
            msg = f"select a galaxy before you {decision} its label"
            raise ValueError(msg)
        object_id, predicted = int(opened.object_ids[0]), int(opened.predicted[0])
        if decision in LABELLED and predicted == NO_LABEL:
            msg = f"galaxy {object_id} has no prediction in run {self.run!r} to {decision}"
            raise ValueError(msg)
        self._check_catalog(opened)
        if decision == "approve":
            label = predicted
        elif decision == "relabel" and label is None:
            label = 1 - predicted
        decision_id = self._ledger.record_decision(
            object_id, decision, label=label, reviewer=self._reviewer(), run=self.run
        )
        self.undoable.append(([object_id], [decision_id]))
        self.ledger_state = decision_id
        return decision_id

    def decide_shown(
        self, shown: Shown, decision: str, *, reason: str = "", undecided_only: bool = False
    ) -> BulkOutcome:
        """Record one decision about each shown galaxy, all in one ledger transaction.

        Galaxies decided (by anyone) after `shown.ledger_state`, and with `undecided_only`
        those with a decision in effect, are left out, read in the same transaction.

        Parameters
        ----------
        shown
            The galaxies, as a view showed them (`show`).
        decision
            ``"approve"`` (each galaxy's predicted class is right), ``"relabel"`` (it is the
            other class), ``"unsure"`` or ``"artefact"``.
        reason
            Why, as the reviewer typed it (stored as given).
        undecided_only
            Decide only about the galaxies without a decision in effect.

        Returns
        -------
        store.BulkOutcome
            The new ids and the galaxies recorded and left out.

        Raises
        ------
        ValueError
            If there are no galaxies, or one to approve or relabel has no prediction in this run.
        CatalogReplacedError
            If the catalog was replaced since the galaxies were shown.
        StoreError
            If the ledger refuses the decisions or cannot save them; nothing is recorded then.
        """
        if not len(shown.object_ids):
            msg = f"no galaxies to {decision}: choose at least one"
            raise ValueError(msg)
        labels = None
        if decision in LABELLED:
            if (missing := shown.object_ids[shown.predicted == NO_LABEL]).size:
                msg = f"galaxy {missing[0]} has no prediction in run {self.run!r} to {decision}"
                raise ValueError(msg)
            predicted = shown.predicted
            labels = (predicted if decision == "approve" else 1 - predicted).tolist()
        self._check_catalog(shown)
        outcome = self._ledger.record_bulk(
            shown.object_ids.tolist(),
            decision,
            labels=labels,
            reviewer=self._reviewer(),
            run=self.run,
            reason=reason,
            seen=shown.ledger_state,
            undecided_only=undecided_only,
        )
        if outcome.ids:
            self.undoable.append((outcome.recorded, outcome.ids))
        self.ledger_state = self._ledger.state()
        return outcome

    def retract(self, object_ids: list[int], decision_ids: list[int]) -> list[int]:
        """Retract decisions (one about each of `object_ids`) in one ledger transaction.

        Parameters
        ----------
        object_ids
            One galaxy per decision.
        decision_ids
            The ids of decisions in effect about those galaxies (from `decide_shown`).

        Returns
        -------
        list of int
            The retractions' ids.

        Raises
        ------
        StoreError
            If a decision cannot be retracted (`SchemaError`) or the ledger cannot save the
            retractions (`store.LedgerError`); nothing is recorded then.
        """
        ids = self._ledger.record_decisions(
            object_ids,
            "retract",
            reviewer=self._reviewer(),
            run=self.run,
            retracts=decision_ids,
        )
        self.ledger_state = max(ids)
        return ids

    def _open(self, row: int | None) -> None:
        """Remember the galaxy of a catalog row as it is shown now, as the opened one."""
        self.opened = None if row is None else self.show([row], self.catalog_id())

    def _check_catalog(self, shown: Shown) -> None:
        """Refuse galaxies shown from a catalog that has been replaced since."""
        if self.catalog_id() != shown.catalog_id:
            msg = (
                "Not recorded: the catalog was replaced (a new curation) since this page was"
                " shown, so its rows are other galaxies now; reload the page, then decide again"
            )
            raise CatalogReplacedError(msg)

    def _reviewer(self) -> str:
        """Return the reviewer's name; raise SchemaError if none was given yet."""
        if not self.reviewer.strip():
            msg = (
                "reviewer must name who decided: type your name under 'Reviewer' first"
                " (it is recorded with every decision)"
            )
            raise SchemaError(msg)
        return self.reviewer

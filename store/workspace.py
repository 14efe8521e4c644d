"""A workspace folder: where the catalog, the models and the review ledger live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from store.catalog import Catalog
from store.ledger import Ledger

__all__ = ["Workspace"]


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace.

    Parameters
    ----------
    root
        The workspace folder; it is created by the first command that writes into it.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def catalog_path(self) -> Path:
        """The Zarr catalog."""
        return self.root / "catalog.zarr"

    @property
    def ledger_path(self) -> Path:
        """The review ledger."""
        return self.root / "reviews.sqlite"

    def model_dir(self, run: str) -> Path:
        """Return the folder of a run's Keras model, history and config."""
        return self.root / "models" / run

    def catalog(self, *, mode: str = "r+") -> Catalog:
        """Open the catalog."""
        return Catalog(self.catalog_path, mode=mode)

    def ledger(self) -> Ledger:
        """Open (or create) the review ledger."""
        return Ledger(self.ledger_path)

"""How a curation runs (`CurationConfig`) and what it reports (`CurationSummary`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from galcore.curation._sets import SetFractions
from galcore.curation._stretch import ColourStretch
from galcore.errors import CurationError

__all__ = ["MODES", "CurationConfig", "CurationSummary"]

MODES = ("skip", "strict")
_NO_ROWS = range(0)


@dataclass(frozen=True)
class CurationConfig:
    """How to curate: image size and field, crossmatch radius, stretch, sets, parallelism.

    Attributes
    ----------
    size
        Side of the stored images in pixels (the paper's network reads 299).
    field_arcsec
        Side of every cutout on the sky, the same for both surveys.
    match_radius_arcsec
        Largest SDSS-DES separation of a match.
    seed
        Seed of the set assignment.
    mode
        ``"skip"`` keeps objects that fail with their reason; ``"strict"`` stops at the first.
    workers
        Processes cutting out frames and tiles in parallel.
    max_missing
        Largest fraction of a cutout that may lie off every frame or tile holding part of it:
        such a galaxy is kept as ``partial`` (black where there is no image; it may be trained
        on but is in no test set), one missing more fails as ``off_frame``. The default, 0.25,
        keeps a galaxy whose centre is at least a quarter of the field inside an image edge
        (the missing strip is then outer sky), and refuses one on an edge (50%) or a corner.
    """

    size: int = 128
    field_arcsec: float = 40.0
    match_radius_arcsec: float = 1.0
    seed: int = 0
    mode: str = "skip"
    workers: int = 1
    stretch: ColourStretch = field(default_factory=ColourStretch)
    fractions: SetFractions = field(default_factory=SetFractions)
    max_missing: float = 0.25

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            msg = f"mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            raise CurationError(msg)
        if not 16 <= self.size <= 1024:
            msg = f"size must be between 16 and 1024 pixels, got {self.size}"
            raise CurationError(msg)
        if self.field_arcsec <= 0 or self.workers < 1:
            msg = f"field_arcsec and workers must be > 0, got {self.field_arcsec}, {self.workers}"
            raise CurationError(msg)
        if not 0 <= self.max_missing < 1:
            msg = f"max_missing (--max-missing) must be in [0, 1), got {self.max_missing}"
            raise CurationError(msg)


@dataclass(frozen=True)
class CurationSummary:
    """What a curation wrote: a whole catalog (`curate_catalog`) or new rows (`add_to_catalog`).

    Attributes
    ----------
    path
        The catalog.
    n_sdss, n_des
        Objects of each survey written (new ones, for an addition).
    n_matched
        SDSS-DES pairs written, `n_joined` of them with an object the catalog held already.
    failures
        Objects written that could not be curated, by reason.
    sets
        Members of each set among the rows written.
    seconds
        How long it took.
    partial, from_neighbour
        Galaxies kept with part of their cutout off the images, and galaxies cut from another
        frame or tile than their catalog row names.
    rows
        The rows written: every row of a new catalog, the new rows of an addition (empty when
        there was nothing to add).
    n_known
        Objects of the inputs that the catalog held already (left as they are).
    """

    path: Path
    n_sdss: int
    n_des: int
    n_matched: int
    failures: dict[str, int]
    sets: dict[str, int]
    seconds: float
    partial: int = 0
    from_neighbour: int = 0
    rows: range = _NO_ROWS
    n_known: int = 0
    n_joined: int = 0

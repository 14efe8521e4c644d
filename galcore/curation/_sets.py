"""Assign curated objects to the training and test sets of the paper, reproducibly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galcore.errors import CurationError
from store.schema import SETS, SURVEYS, sets_code

__all__ = ["SetFractions", "assign_sets"]


@dataclass(frozen=True)
class SetFractions:
    """Fractions of the confident SDSS labels held out for testing and validation."""

    hp_test: float = 0.15
    val: float = 0.1

    def __post_init__(self) -> None:
        for name in ("hp_test", "val"):
            if not 0 <= getattr(self, name) <= 1:
                msg = f"the {name} share {getattr(self, name)} must be between 0 and 1"
                raise CurationError(msg)


def _pick(mask: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Return a random subset (`fraction` of the True rows) of a boolean mask."""
    rows = np.flatnonzero(mask)
    chosen = rng.choice(rows, size=round(fraction * len(rows)), replace=False)
    picked = np.zeros_like(mask)
    picked[chosen] = True
    return picked


def assign_sets(
    survey: np.ndarray,
    label: np.ndarray,
    confident: np.ndarray,
    match_index: np.ndarray,
    ok: np.ndarray,
    *,
    partial: np.ndarray | None = None,
    fractions: SetFractions = SetFractions(),  # noqa: B008 (frozen dataclass)
    seed: int = 0,
) -> np.ndarray:
    """Return the `sets` bit code of every object.

    - ``hp_test``: a random share of the confident SDSS labels whose DES counterpart was also
      curated, and those counterparts (the paper's HP SDSS and HP DES tests).
    - ``train`` / ``val``: the other confident SDSS labels, and their curated DES counterparts
      (the same galaxies as DES sees them, with the same label): a network that learns from
      both surveys' images does not take one survey's depth and seeing for morphology.
    - ``fo_test``: every labelled SDSS object with a curated DES counterpart that is not in
      train or val, and those counterparts (the paper's FO tests).
    - ``unlabelled``: curated DES objects without an SDSS counterpart.

    `ok` marks the objects with a whole cutout and `partial` those with a partial one: these
    may be in train, val and unlabelled but, like their counterparts, never in a test set.
    Objects that failed curation are in no set.
    """
    rng = np.random.default_rng(seed)
    usable = ok if partial is None else ok | partial
    sdss = (survey == SURVEYS.index("sdss")) & usable & (label >= 0)
    des = (survey == SURVEYS.index("des")) & usable
    matched = match_index >= 0
    pair_ok = np.zeros_like(ok)
    pair_ok[matched] = ok[match_index[matched]]
    testable = sdss & ok & pair_ok
    members = {name: np.zeros(len(survey), dtype=bool) for name in SETS}
    members["hp_test"] = _pick(testable & confident, fractions.hp_test, rng)
    pool = sdss & confident & ~members["hp_test"]
    members["val"] = _pick(pool, fractions.val, rng)
    members["train"] = pool & ~members["val"]
    members["fo_test"] = testable & ~pool
    for name in ("hp_test", "fo_test"):
        partners = match_index[members[name]]
        members[name][partners] = True
    for name in ("train", "val"):
        partners = match_index[members[name] & matched]
        members[name][partners[usable[partners]]] = True
    members["unlabelled"] = des & ~matched
    code = np.zeros(len(survey), dtype=np.uint8)
    for name, mask in members.items():
        code[mask] |= sets_code([name])
    return code

"""Where the survey inputs of a curation are."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from galcore.errors import MissingInputError

__all__ = ["SurveyInputs"]

_NAMES = {
    "gz": "GalaxyZoo1_DR_table2.csv",
    "sdss_photo": "sdss_photoobj.csv",
    "des_catalog": "des_dr1_main.csv",
}
_FOLDERS = {"sdss_frames": "sdss", "des_tiles": "des"}


@dataclass(frozen=True)
class SurveyInputs:
    """The five inputs of a curation: three tables and two folders of images.

    Attributes
    ----------
    gz
        Galaxy Zoo 1 table 2 (CSV).
    sdss_photo
        SkyServer PhotoObj rows of the SDSS galaxies (CSV).
    sdss_frames
        A folder holding DR8+ ``frame-*.fits.bz2`` files anywhere below it.
    des_catalog
        DES DR1 main-catalog rows (CSV).
    des_tiles
        A folder holding DES coadd ``*.fits.fz`` tiles anywhere below it.
    """

    gz: Path
    sdss_photo: Path
    sdss_frames: Path
    des_catalog: Path
    des_tiles: Path

    @classmethod
    def from_sky(cls, root: Path, **given: Path) -> SurveyInputs:
        """Find the inputs under one folder by their names (as `galcore sky` writes them).

        Parameters
        ----------
        root
            The folder to search.
        **given
            Inputs already known (by field name); only the others are searched for.

        Raises
        ------
        MissingInputError
            If a table is not found anywhere under `root`.
        """
        root = Path(root)
        if not root.is_dir():
            msg = f"--sky {root}: no such folder; write one with 'galcore sky --out {root}'"
            raise MissingInputError(msg)
        found = dict(given)
        for field, name in _NAMES.items():
            matches = sorted(root.rglob(name)) if field not in found else [found[field]]
            if not matches:
                option = field.replace("_", "-")
                msg = f"--sky {root}: no {name} anywhere below it; pass the file with --{option}"
                raise MissingInputError(msg)
            found[field] = matches[0]
        for field, name in _FOLDERS.items():
            found.setdefault(field, root / name if (root / name).is_dir() else root)
        return cls(**found)

    def check(self) -> None:
        """Raise `MissingInputError` naming the first input that does not exist."""
        for field in fields(self):
            path = getattr(self, field.name)
            wanted = path.is_dir() if field.name in _FOLDERS else path.is_file()
            if not wanted:
                kind = "folder" if field.name in _FOLDERS else "file"
                option = field.name.replace("_", "-")
                msg = f"--{option} {path}: no such {kind}; check the path"
                raise MissingInputError(msg)

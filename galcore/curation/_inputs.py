"""Where the survey inputs of a curation are: SDSS's, DES's or both."""

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
_SURVEYS = {"SDSS": ("gz", "sdss_photo", "sdss_frames"), "DES": ("des_catalog", "des_tiles")}


def _option(field: str) -> str:
    return "--" + field.replace("_", "-")


@dataclass(frozen=True)
class SurveyInputs:
    """The inputs of a curation: SDSS's three, DES's two, or all five.

    Attributes
    ----------
    gz
        Galaxy Zoo 1 table 2 (CSV).
    sdss_photo
        SkyServer PhotoObj rows of the SDSS galaxies (CSV).
    sdss_frames
        A folder holding DR8+ ``frame-*.fits.bz2`` files, or DR7 ``fpC-*.fit[.gz]`` files
        with their ``tsField-*.fit`` files, anywhere below it.
    des_catalog
        DES DR1 main-catalog rows (CSV).
    des_tiles
        A folder holding DES coadd ``*.fits.fz`` tiles anywhere below it.
    """

    gz: Path | None = None
    sdss_photo: Path | None = None
    sdss_frames: Path | None = None
    des_catalog: Path | None = None
    des_tiles: Path | None = None

    @property
    def has_sdss(self) -> bool:
        """Whether the SDSS inputs are given (Galaxy Zoo, PhotoObj and frames)."""
        return all(getattr(self, name) is not None for name in _SURVEYS["SDSS"])

    @property
    def has_des(self) -> bool:
        """Whether the DES inputs are given (catalog and tiles)."""
        return all(getattr(self, name) is not None for name in _SURVEYS["DES"])

    @classmethod
    def from_sky(cls, root: Path, **given: Path) -> SurveyInputs:
        """Find the inputs under one folder by their names (as `galcore sky` writes them).

        A survey whose tables are not there is left out (a curation of the other survey
        alone); the image folders default to ``sdss/`` and ``des/`` under `root`, else `root`.

        Parameters
        ----------
        root
            The folder to search.
        **given
            Inputs already known (by field name); only the others are searched for.

        Raises
        ------
        MissingInputError
            If `root` is not a folder, holds no table, or one SDSS table without the other.
        """
        root = Path(root)
        if not root.is_dir():
            msg = f"--sky {root}: no such folder; write one with 'galcore sky --out {root}'"
            raise MissingInputError(msg)
        found = dict(given)
        for field, name in _NAMES.items():
            if field not in found and (matches := sorted(root.rglob(name))):
                found[field] = matches[0]
        if not any(field in found for field in _NAMES):
            msg = f"--sky {root}: none of {', '.join(_NAMES.values())} anywhere below it"
            raise MissingInputError(msg)
        sdss_tables = ("gz", "sdss_photo")
        if len(lacking := [f for f in sdss_tables if f not in found]) == 1:
            name, option = _NAMES[lacking[0]], _option(lacking[0])
            msg = f"--sky {root}: no {name} anywhere below it; pass the file with {option}"
            raise MissingInputError(msg)
        for folder, tables in (("sdss_frames", sdss_tables), ("des_tiles", ("des_catalog",))):
            if any(table in found for table in tables):
                default = root / _FOLDERS[folder]
                found.setdefault(folder, default if default.is_dir() else root)
        return cls(**found)

    def check(self) -> None:
        """Raise `MissingInputError` for a survey given in part, no survey, or a missing path."""
        given = {
            survey: [n for n in names if getattr(self, n) is not None]
            for survey, names in _SURVEYS.items()
        }
        for survey, names in _SURVEYS.items():
            if given[survey] and len(given[survey]) < len(names):
                missing = [_option(n) for n in names if n not in given[survey]]
                msg = (
                    f"the {survey} inputs go together: missing {', '.join(missing)} (or give"
                    f" none of {', '.join(map(_option, names))} to curate the other survey alone)"
                )
                raise MissingInputError(msg)
        if not (self.has_sdss or self.has_des):
            msg = (
                "no survey inputs: give the SDSS ones (--gz, --sdss-photo, --sdss-frames), the"
                " DES ones (--des-catalog, --des-tiles), both, or a folder with --sky"
            )
            raise MissingInputError(msg)
        for field in fields(self):
            path = getattr(self, field.name)
            if path is None:
                continue
            wanted = path.is_dir() if field.name in _FOLDERS else path.is_file()
            if not wanted:
                kind = "folder" if field.name in _FOLDERS else "file"
                msg = f"{_option(field.name)} {path}: no such {kind}; check the path"
                raise MissingInputError(msg)

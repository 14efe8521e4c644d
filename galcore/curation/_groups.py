"""Cut out every galaxy of one frame or tile: each image file is read once per group."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.curation._cutout import cutout
from galcore.curation._stretch import ColourStretch
from galcore.errors import CurationError, MissingBandError
from galcore.surveys import SurveyImage, read_frame, read_tile

__all__ = ["BANDS", "GroupResult", "ImageGroup", "cut_group"]

BANDS = ("g", "r", "i")
_READERS = {"sdss": read_frame, "des": read_tile}


@dataclass(frozen=True)
class ImageGroup:
    """The galaxies of one SDSS field or DES tile and the files of its bands.

    `paths` maps each band to its file, `missing` each band without one to the name it was
    expected under, and `calibrations` each band whose file needs a separate photometric
    calibration (a DR7 fpC frame) to the file that holds it (its tsField), where found.
    """

    survey: str
    start: int
    names: tuple[str, ...]
    ra: np.ndarray
    dec: np.ndarray
    paths: dict[str, Path]
    missing: dict[str, str]
    calibrations: dict[str, Path] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class GroupResult:
    """The uint8 images of a group and the failures: (offset in group, reason, message)."""

    start: int
    images: np.ndarray
    failures: list[tuple[int, str, str]]


def _read_bands(group: ImageGroup) -> dict[str, SurveyImage]:
    """Read the g, r, i images of a group, or raise for the first missing one."""
    for band, expected in group.missing.items():
        msg = f"no {band}-band file {expected}"
        raise MissingBandError(msg)
    return {band: _read_band(group, band) for band in BANDS}


def _read_band(group: ImageGroup, band: str) -> SurveyImage:
    """Read one band's image, with its calibration file where it has one (SDSS only)."""
    if group.survey == "sdss":
        return read_frame(group.paths[band], tsfield=group.calibrations.get(band))
    return _READERS[group.survey](group.paths[band])


def cut_group(
    group: ImageGroup, *, size: int, field_arcsec: float, stretch: ColourStretch
) -> GroupResult:
    """Cut out, resample and colour every galaxy of a group; failures are returned, not raised."""
    images = np.zeros((len(group), size, size, 3), dtype=np.uint8)
    try:
        bands = _read_bands(group)
    except CurationError as error:
        failures = [
            (k, error.reason, f"galaxy {name}: {error}") for k, name in enumerate(group.names)
        ]
        return GroupResult(group.start, images, failures)
    field = field_arcsec * u.arcsec
    positions = SkyCoord(group.ra * u.deg, group.dec * u.deg)
    failures = []
    for k, name in enumerate(group.names):
        try:
            planes = [
                cutout(bands[b], positions[k], size=size, field=field, name=name) for b in BANDS
            ]
        except CurationError as error:
            failures.append((k, error.reason, str(error)))
            continue
        images[k] = stretch(*planes)
    return GroupResult(group.start, images, failures)

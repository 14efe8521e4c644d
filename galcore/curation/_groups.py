"""Cut out every galaxy of one frame or tile: each image file is read once per group."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.curation._cutout import coverage, cutout
from galcore.curation._stretch import ColourStretch
from galcore.errors import CurationError, MissingBandError, OffFrameError
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
    """The uint8 images of a group, its failures and the share of each cutout off the images.

    `failures` holds (offset in group, reason, message); `missing` the fraction of each
    galaxy's cutout that lies off the images (0 for a whole cutout, NaN for a galaxy that failed
    for another reason).
    """

    start: int
    images: np.ndarray
    failures: list[tuple[int, str, str]]
    missing: np.ndarray


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
    group: ImageGroup,
    *,
    size: int,
    field_arcsec: float,
    stretch: ColourStretch,
    max_missing: float,
) -> GroupResult:
    """Cut out, resample and colour every galaxy of a group; failures are returned, not raised.

    A cutout that runs off the images by at most `max_missing` of its pixels is kept, with the
    pixels off any band's image set to 0 (no flux: black after the stretch) in every band so
    the colours stay true; one that runs off by more, or lies wholly off, fails as ``off_frame``.
    """
    images = np.zeros((len(group), size, size, 3), dtype=np.uint8)
    missing = np.zeros(len(group), dtype=np.float32)
    try:
        bands = _read_bands(group)
    except CurationError as error:
        failures = [
            (k, error.reason, f"galaxy {name}: {error}") for k, name in enumerate(group.names)
        ]
        return GroupResult(group.start, images, failures, np.full_like(missing, np.nan))
    options = {"size": size, "field": field_arcsec * u.arcsec}
    positions = SkyCoord(group.ra * u.deg, group.dec * u.deg)
    failures = []
    for k, name in enumerate(group.names):
        try:
            planes = [cutout(bands[b], positions[k], **options, name=name) for b in BANDS]
        except OffFrameError as error:
            on = np.logical_and.reduce(
                [
                    coverage(image.wcs, image.data.shape, positions[k], **options)
                    for image in bands.values()
                ]
            )
            missing[k] = 1.0 - on.mean()
            if missing[k] > max_missing:
                failures.append((k, error.reason, _off_message(error, missing[k], max_missing)))
                continue
            planes = [
                np.where(on, cutout(bands[b], positions[k], **options, name=name, partial=True), 0)
                for b in BANDS
            ]
        except CurationError as error:
            missing[k] = np.nan
            failures.append((k, error.reason, str(error)))
            continue
        images[k] = stretch(*planes)
    return GroupResult(group.start, images, failures, missing)


def _off_message(error: OffFrameError, missing: float, max_missing: float) -> str:
    """Return the message of a cutout that lies off its images by more than `max_missing`."""
    if missing >= 1.0:
        return str(error)
    return (
        f"{error}: {missing:.0%} of it lies off the image, more than --max-missing"
        f" {max_missing:g} allows (raise --max-missing to keep it as a partial cutout)"
    )

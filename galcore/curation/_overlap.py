"""Galaxies at the edge of their frame or tile: cut them from a neighbouring file that holds more.

A catalog row names the SDSS field or DES tile a galaxy was measured on, but near that file's
edge its cutout may run off the image while a neighbouring field or tile, which overlaps it,
holds all of it. After every galaxy has been cut from its named files, the galaxies whose
cutout lies partly on them are looked up in the other files of the same survey: each file's
footprint comes from its header (WCS and size, no pixels) and is read once, the galaxy is
placed on the ones whose centre is near enough, and it is cut again (all three bands from one
file set) from the one that holds the most of its cutout, if that is more than its named files
hold. A galaxy that lies wholly off its named files is not looked for elsewhere: its catalog
row names the wrong file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from galcore.curation._cutout import coverage
from galcore.curation._groups import BANDS, GroupResult, ImageGroup
from galcore.curation._inputs import SurveyInputs
from galcore.errors import UnreadableFileError
from galcore.surveys import find_frames, find_tiles, tsfield_calibrations
from galcore.surveys._fits import celestial_wcs
from store import CatalogSink

__all__ = ["NeighbourCut", "apply_neighbour_cuts", "plan_neighbour_cuts"]

logger = logging.getLogger(__name__)

_IMAGE_HDU = {"sdss": 0, "des": "SCI"}
"""The HDU whose header holds each survey's image WCS and size."""
_SLACK_ARCSEC = 60.0
"""How far a band's footprint may reach beyond the r band's (SDSS bands are offset a little)."""


@dataclass(frozen=True)
class NeighbourCut:
    """Galaxies to cut again from one neighbouring file set.

    `group` holds the file set and the galaxies (its `start` is unused), `rows` their catalog
    rows and `named` the r-band file each was cut from before, for the log.
    """

    group: ImageGroup
    rows: np.ndarray
    named: tuple[str, ...]


_Geometry = tuple[WCS, tuple[int, int]]


@dataclass(frozen=True)
class _FileSet:
    """The g, r, i files of one SDSS field or DES tile."""

    paths: dict[str, Path]
    calibrations: dict[str, Path]


def _read_geometry(path: Path, hdu: int | str) -> _Geometry | None:
    """Return an image's celestial WCS and (ny, nx) from its header alone; None if unreadable."""
    try:
        with fits.open(path) as hdus:
            header = hdus[hdu].header
            shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
        return celestial_wcs(header, path), shape
    except (OSError, KeyError, ValueError, EOFError, UnreadableFileError) as error:
        logger.debug("%s: no footprint from its header (%s); not a neighbour", path, error)
        return None


def _file_sets(survey: str, inputs: SurveyInputs) -> list[_FileSet]:
    """Return every field or tile of a survey found under its folder with all three bands."""
    if survey == "sdss":
        files = find_frames(inputs.sdss_frames)
        calibrations = tsfield_calibrations(files, inputs.sdss_frames)
        keys = [{b: (b, *field) for b in BANDS} for field in sorted({k[1:] for k in files})]
    else:
        files, calibrations = find_tiles(inputs.des_tiles), {}
        keys = [{b: (tile, b) for b in BANDS} for tile in sorted({k[0] for k in files})]
    return [
        _FileSet(
            {b: files[key] for b, key in bands.items()},
            {b: calibrations[key] for b, key in bands.items() if key in calibrations},
        )
        for bands in keys
        if all(key in files for key in bands.values())
    ]


class _Footprints:
    """The file sets of one survey and their footprints, each header read at most once."""

    def __init__(self, survey: str, inputs: SurveyInputs) -> None:
        self.survey = survey
        self.sets = _file_sets(survey, inputs)
        self._geometry: dict[Path, _Geometry | None] = {}
        ra, dec, self._radius = (np.full(len(self.sets), value) for value in (0.0, 0.0, -np.inf))
        for k, file_set in enumerate(self.sets):
            geometry = self.geometry(file_set.paths["r"])
            if geometry is not None:
                wcs, (ny, nx) = geometry
                centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
                x, y = [-0.5, nx - 0.5, -0.5, nx - 0.5], [-0.5, -0.5, ny - 0.5, ny - 0.5]
                ra[k], dec[k] = centre.icrs.ra.deg, centre.icrs.dec.deg
                self._radius[k] = centre.separation(wcs.pixel_to_world(x, y)).max().arcsec
        self._centres = SkyCoord(ra * u.deg, dec * u.deg)

    def geometry(self, path: Path) -> _Geometry | None:
        """Return the (WCS, shape) of one file from its header; None if unreadable."""
        if path not in self._geometry:
            self._geometry[path] = _read_geometry(path, _IMAGE_HDU[self.survey])
        return self._geometry[path]

    def near(self, position: SkyCoord, reach_arcsec: float) -> np.ndarray:
        """Return the file sets whose r image's centre is within its radius plus `reach`."""
        distance = self._centres.separation(position).arcsec
        return np.flatnonzero(distance <= self._radius + reach_arcsec)

    def held(self, index: int, position: SkyCoord, *, size: int, field: u.Quantity) -> float:
        """Return the fraction of a cutout that lies on all three bands of file set `index`."""
        on = np.ones((size, size), dtype=bool)
        for path in self.sets[index].paths.values():
            geometry = self.geometry(path)
            if geometry is None:
                return 0.0
            on &= coverage(*geometry, position, size=size, field=field)
        return float(on.mean())


def plan_neighbour_cuts(
    inputs: SurveyInputs,
    groups: Iterable[ImageGroup],
    missing: np.ndarray,
    *,
    size: int,
    field_arcsec: float,
) -> list[NeighbourCut]:
    """Return the galaxies to cut again from a neighbouring file set, grouped by that set.

    Parameters
    ----------
    inputs
        The survey inputs, whose folders are searched for the neighbouring files.
    groups
        The groups every galaxy was cut from, by its catalog row.
    missing
        Per catalog row, the fraction of its cutout off its named files (NaN if not cut).
    size, field_arcsec
        The cutouts' side in pixels and in arcsec.

    Returns
    -------
    list of NeighbourCut
        One per file set that holds more of some galaxies' cutouts than their named files do;
        empty (and no file is looked at) when no cutout runs off its named files.
    """
    edge = (missing > 0) & (missing < 1)
    field = field_arcsec * u.arcsec
    reach = field.to_value(u.arcsec) / np.sqrt(2) + _SLACK_ARCSEC
    surveys: dict[str, _Footprints] = {}
    members: dict[tuple[str, int], list[tuple[int, ImageGroup, int]]] = {}
    for group in groups:
        for k in np.flatnonzero(edge[group.start : group.start + len(group)]).tolist():
            if group.survey not in surveys:
                surveys[group.survey] = _Footprints(group.survey, inputs)
            footprints = surveys[group.survey]
            position = SkyCoord(group.ra[k] * u.deg, group.dec[k] * u.deg)
            held = {
                index: footprints.held(index, position, size=size, field=field)
                for index in footprints.near(position, reach).tolist()
                if footprints.sets[index].paths != group.paths
            }
            best = max(held, key=held.__getitem__, default=None)  # the first of equals
            if best is not None and held[best] > 1 - missing[group.start + k]:
                members.setdefault((group.survey, best), []).append((group.start + k, group, k))
    plans = [_plan(surveys[survey].sets[index], cut) for (survey, index), cut in members.items()]
    logger.info(
        "%d galaxies run off their named frame or tile; %d of them lie more on a neighbour",
        int(edge.sum()),
        sum(len(plan.rows) for plan in plans),
    )
    return plans


def _plan(file_set: _FileSet, members: list[tuple[int, ImageGroup, int]]) -> NeighbourCut:
    """Return the cut from `file_set` of galaxies given as (row, named group, offset in it)."""
    group = ImageGroup(
        survey=members[0][1].survey,
        start=0,
        names=tuple(named.names[k] for _, named, k in members),
        ra=np.array([named.ra[k] for _, named, k in members]),
        dec=np.array([named.dec[k] for _, named, k in members]),
        paths=file_set.paths,
        missing={},
        calibrations=file_set.calibrations,
    )
    rows = np.array([row for row, _, _ in members], dtype=np.int64)
    return NeighbourCut(group, rows, tuple(named.paths["r"].name for _, named, _ in members))


def apply_neighbour_cuts(
    writer: CatalogSink,
    plans: list[NeighbourCut],
    results: Iterable[GroupResult],
    failures: dict[int, tuple[str, str]],
    missing: np.ndarray,
) -> int:
    """Store the neighbours' cutouts that hold more than the named files' and return how many.

    A galaxy cut from a neighbour loses its failure and takes the neighbour's missing fraction
    (`failures` and `missing` are updated); one the neighbour cannot give (its file unreadable,
    say) keeps what its named files gave.

    Parameters
    ----------
    writer
        The catalog being written (or added to).
    plans
        From `plan_neighbour_cuts`.
    results
        `cut_group` of each plan's group, in the same order.
    failures
        Row -> (reason, message) of the galaxies that failed so far.
    missing
        Per row, the fraction of its cutout off the images it was cut from.
    """
    moved = 0
    for plan, result in zip(plans, results, strict=True):
        failed = {k for k, _, _ in result.failures}
        for k, row in enumerate(plan.rows.tolist()):
            if k in failed or not result.missing[k] < missing[row]:
                continue
            writer.write_images(row, result.images[k : k + 1])
            logger.info(
                "galaxy %s: cut from %s (%.0f%% of its cutout off it) instead of %s (%.0f%% off)",
                plan.group.names[k],
                plan.group.paths["r"].name,
                100 * result.missing[k],
                plan.named[k],
                100 * missing[row],
            )
            failures.pop(row, None)
            missing[row] = result.missing[k]
            moved += 1
    return moved

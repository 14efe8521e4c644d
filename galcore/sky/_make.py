"""make_sky: lay out SDSS frames and DES tiles, place galaxies, write every survey file.

The catalogued galaxies sit on the layout's candidate positions (`galcore.sky._layout`). The
images also hold what no catalog lists: fainter neighbours, a close companion for some
galaxies (blends), stars, and artefacts (`galcore.sky._contaminants`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from galcore.errors import SkyError
from galcore.sky._catalogs import (
    DES_CATALOG,
    DES_COLUMNS,
    GZ_COLUMNS,
    GZ_TABLE,
    PHOTOOBJ_COLUMNS,
    SDSS_PHOTOOBJ,
    TRUTH,
    TRUTH_COLUMNS,
    des_row,
    gz_row,
    measure_des,
    measure_sdss,
    photoobj_row,
    truth_row,
    write_csv,
)
from galcore.sky._conditions import SkyConditions
from galcore.sky._contaminants import ARTEFACTS, add_artefacts, draw_stars
from galcore.sky._layout import (
    ARTEFACTS as ARTEFACT_STREAM,
)
from galcore.sky._layout import (
    DEFECTS,
    DUPLICATES,
    KINDS,
    MARGIN,
    MEASURE,
    NEIGHBOURS,
    NOISE,
    PLACEMENT,
    STARS,
    VOTES,
    Grid,
    Layout,
    footprint_bounds,
    plan,
    sky_rng,
)
from galcore.sky._population import draw_galaxies, draw_zoo_votes
from galcore.sky._render import DES, SDSS, add_noise, render_scene, sky_sigma_map
from galcore.sky._writers import (
    DES_TILES_DIR,
    SDSS_FRAMES_DIR,
    DesTile,
    SdssFrame,
    des_tile_name,
    sdss_objid,
    write_des_tile,
    write_sdss_frame,
)
from galcore.sky._writers_dr7 import write_fpc_frame

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from galcore.sky._catalogs import DesEntry, SdssEntry
    from galcore.sky._contaminants import Star
    from galcore.sky._population import Galaxy
    from galcore.sky._writers import Footprint

logger = logging.getLogger(__name__)

_SHARED_FRACTION = 0.75  # of the SDSS galaxies that DES sees too
_DEFECT_RATE = 0.0075  # per survey and per kind of defect
_MIN_FOR_DEFECTS = 20  # smaller skies have no defects
_DUPLICATE_RATE = 0.005  # Galaxy Zoo rows written twice
_FIRST_COADD_ID = 61_000_000
_IMAGE_LIMITS = (1024, 4096)
_TILE_LIMITS = (1024, 10_000)
_SURVEYS = ("sdss", "des")
_WRITERS: dict[str, Callable[..., Path]] = {"sdss": write_sdss_frame, "des": write_des_tile}
SDSS_FORMATS: dict[str, Callable[..., Path]] = {"dr8": write_sdss_frame, "dr7": write_fpc_frame}
_MAX_WORKERS = 4
_NEIGHBOURS_PER_ARCMIN2 = 1.0  # uncatalogued galaxies fainter than the SDSS main sample
_NEIGHBOUR_MAGS = (17.8, 21.5)
_BLEND_FRACTION = 0.06  # of catalogued galaxies have a close companion
_BLEND_SEPARATION = (3.0, 12.0)  # arcsec
_BLEND_FAINTER = (0.3, 2.5)  # magnitudes fainter than the catalogued galaxy


@dataclass(frozen=True)
class SkyManifest:
    """What `make_sky` wrote.

    Parameters
    ----------
    root : pathlib.Path
        The sky's folder.
    gz_table : pathlib.Path
        Galaxy Zoo 1 table 2 (``GalaxyZoo1_DR_table2.csv``).
    sdss_photoobj : pathlib.Path
        SDSS PhotoObj catalog (``sdss_photoobj.csv``).
    sdss_frames_dir : pathlib.Path
        Folder holding ``301/<run>/<camcol>/frame-*.fits.bz2`` (DR8), or
        ``<run>/40/corr/<camcol>/fpC-*.fit.gz`` and ``<run>/40/calibChunks/<camcol>/tsField-*.fit``
        (DR7).
    des_catalog : pathlib.Path
        DES DR1 main catalog (``des_dr1_main.csv``).
    des_tiles_dir : pathlib.Path
        Folder holding ``<TILE>/<TILE>_r*p01_<band>.fits.fz``.
    truth : pathlib.Path
        True morphology and catalog ids of every galaxy (``truth.csv``).
    n_galaxies : int
        Galaxies in the sky.
    n_sdss : int
        Galaxies in the SDSS catalogs (Galaxy Zoo has the same, plus duplicate rows).
    n_des : int
        Galaxies in the DES catalog.
    n_both : int
        Galaxies in both surveys.
    n_frames : int
        SDSS fields written (each in g, r and i, except one field that lacks i).
    n_tiles : int
        DES tiles written (each in g, r and i, except one tile that lacks i).
    n_defects : int
        Catalog entries that curation must reject (``defect`` in truth.csv).
    sdss_format : str
        ``"dr8"`` or ``"dr7"``: the format of the SDSS frames.
    """

    root: Path
    gz_table: Path
    sdss_photoobj: Path
    sdss_frames_dir: Path
    des_catalog: Path
    des_tiles_dir: Path
    truth: Path
    n_galaxies: int
    n_sdss: int
    n_des: int
    n_both: int
    n_frames: int
    n_tiles: int
    n_defects: int
    sdss_format: str = "dr8"


def make_sky(
    out: Path,
    *,
    seed: int = 0,
    n_sdss: int = 600,
    n_des: int = 700,
    tile_size: int = 2048,
    frame_shape: tuple[int, int] = (1489, 2048),
    sdss_format: str = "dr8",
    conditions: SkyConditions | None = None,
) -> SkyManifest:
    """Write a synthetic sky: Galaxy Zoo, SDSS and DES files in their real formats and names.

    Parameters
    ----------
    out : pathlib.Path
        Folder to write into; created if needed, and it must not hold a sky already.
    seed : int
        Seed of every random draw; the same seed writes byte-identical CSV files.
    n_sdss : int
        Galaxies in SDSS (and in Galaxy Zoo); about 75% of them are in DES too.
    n_des : int
        Galaxies in DES; those not in SDSS are the unlabelled set.
    tile_size : int
        DES tile side in pixels (real tiles have 10000).
    frame_shape : tuple of int
        (NAXIS2, NAXIS1) of the SDSS frames (real frames are 1489 x 2048).
    sdss_format : str
        ``"dr8"``: calibrated ``frame-*.fits.bz2`` files in nanomaggies; ``"dr7"``: legacy
        ``fpC-*.fit.gz`` counts (SOFTBIAS and sky not subtracted) with one ``tsField-*.fit``
        photometric solution per field. The same seed gives the same images in either.
    conditions : SkyConditions or None
        Seeing, depth and artefact rate relative to the surveys' nominal ones (None: nominal).
        The same seed gives the same galaxies, catalogs and votes under any conditions.

    Returns
    -------
    SkyManifest
        The paths written and the counts.

    Raises
    ------
    SkyError
        If an argument is out of range or ``out`` is not a folder free for a new sky.

    Examples
    --------
    >>> manifest = make_sky(Path("sky"), seed=1, n_sdss=40, n_des=50)  # doctest: +SKIP
    >>> manifest.gz_table.name  # doctest: +SKIP
    'GalaxyZoo1_DR_table2.csv'
    """
    _check_integer("seed", seed, 0)
    _check_integer("n_sdss", n_sdss, 1)
    _check_integer("n_des", n_des, 1)
    _check_size("tile_size", tile_size, _TILE_LIMITS)
    frame_shape = _check_shape(frame_shape)
    if sdss_format not in SDSS_FORMATS:
        msg = f"sdss_format must be one of {', '.join(SDSS_FORMATS)}, got {sdss_format!r}"
        raise SkyError(msg)
    root = _prepare(out)
    counts = _counts(n_sdss, n_des)
    grid = Grid.build(tile_size, frame_shape, seed)
    layout = plan(grid, counts, seed)
    logger.info("sky: %d SDSS frames and %d DES tiles", len(layout.frames), len(layout.tiles))
    galaxies, frame_of, tile_of = _place(layout, counts, seed)
    sdss, ghost_frames = _sdss_catalog(galaxies, frame_of, layout.frames, seed)
    bad_in_sdss = {k for k, entry in sdss.items() if entry.defect}
    des, ghost_tiles = _des_catalog(galaxies, tile_of, layout.tiles, seed, bad_in_sdss)
    jobs = [*_jobs(layout.frames, ghost_frames), *_jobs(layout.tiles, ghost_tiles)]
    writers = {**_WRITERS, "sdss": SDSS_FORMATS[sdss_format]}
    scene = _scene(layout, galaxies, seed)
    conditions = conditions or SkyConditions()
    if not conditions.nominal:
        logger.info("sky: observed with %s", conditions)
    _write_images(scene, jobs, root=root, seed=seed, writers=writers, conditions=conditions)
    sizes = (len(layout.frames) + len(ghost_frames), len(layout.tiles) + len(ghost_tiles))
    manifest = _write_catalogs(root, galaxies, sdss, des, seed=seed, sizes=sizes)
    return dataclasses.replace(manifest, sdss_format=sdss_format)


def _prepare(out: Path) -> Path:
    """Create the output folder, refusing a file or a folder that holds a sky already."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        msg = f"out {str(root)!r} is a file; give a folder for the synthetic sky"
        raise SkyError(msg)
    taken = [
        n for n in (GZ_TABLE, TRUTH, SDSS_FRAMES_DIR[0], DES_TILES_DIR[0]) if (root / n).exists()
    ]
    if taken:
        msg = f"out {str(root)!r} already holds a sky ({', '.join(taken)}); choose a new folder"
        raise SkyError(msg)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _check_integer(name: str, value: object, minimum: int) -> None:
    """Raise SkyError unless value is an integer of at least minimum."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        msg = f"{name} must be an integer >= {minimum}, got {value!r}"
        raise SkyError(msg)


def _check_size(name: str, value: object, limits: tuple[int, int]) -> None:
    """Raise SkyError unless value is an integer within limits."""
    _check_integer(name, value, limits[0])
    if value > limits[1]:
        msg = f"{name} must be an integer from {limits[0]} to {limits[1]}, got {value!r}"
        raise SkyError(msg)


def _check_shape(shape: object) -> tuple[int, int]:
    """Return frame_shape as two ints, raising SkyError if it is not a pair of sizes."""
    if not isinstance(shape, tuple | list) or len(shape) != 2:
        msg = f"frame_shape must be a pair (NAXIS2, NAXIS1), got {shape!r}"
        raise SkyError(msg)
    for axis, size in zip(("frame_shape[0]", "frame_shape[1]"), shape, strict=True):
        _check_size(axis, size, _IMAGE_LIMITS)
    return int(shape[0]), int(shape[1])


def _counts(n_sdss: int, n_des: int) -> dict[str, int]:
    """Return how many galaxies are in both surveys, in SDSS only and in DES only."""
    both = min(round(_SHARED_FRACTION * n_sdss), n_des)
    return {"both": both, "sdss": n_sdss - both, "des": n_des - both}


def _place(
    layout: Layout, counts: dict[str, int], seed: int
) -> tuple[list[Galaxy], np.ndarray, np.ndarray]:
    """Draw the galaxies at random candidate positions of each kind."""
    rng = sky_rng(seed, PLACEMENT)
    chosen = [rng.choice(layout.pools[k], counts[k], replace=False) for k in KINDS]
    order = rng.permutation(np.concatenate(chosen))
    galaxies = draw_galaxies(layout.ra[order], layout.dec[order], rng=rng)
    return galaxies, layout.frame_of[order], layout.tile_of[order]


def _assign(
    galaxies: Sequence[Galaxy],
    owner: np.ndarray,
    footprints: Sequence[Footprint],
    *,
    ghost: Callable[[Footprint], Footprint],
    rng: np.random.Generator,
    exclude: set[int],
) -> tuple[dict[int, tuple[str, Footprint]], dict[int, Footprint]]:
    """Return each member's (defect, footprint named in its catalog entry) and ghost copies.

    A few members get a defect: ``missing_band`` ones name a copy of the fullest footprint
    that lacks band i (returned by host index), ``off_frame`` ones a footprint far from them.
    """
    members = [int(k) for k in np.flatnonzero(owner >= 0) if int(k) not in exclude]
    count = 0 if len(members) < _MIN_FOR_DEFECTS else max(1, round(_DEFECT_RATE * len(members)))
    host = int(np.bincount(owner[owner >= 0]).argmax())
    copy = ghost(footprints[host])
    on_host = [k for k in members if owner[k] == host]
    missing = rng.choice(on_host, min(count, len(on_host)), replace=False)
    defects = {int(k): ("missing_band", copy) for k in missing}
    off_frame = 0
    for k in rng.permutation([k for k in members if k not in defects]):
        far = _far_footprint(galaxies[k], footprints) if off_frame < count else None
        if far is not None:
            defects[int(k)] = ("off_frame", far)
            off_frame += 1
    assigned = {
        int(k): defects.get(int(k), ("", footprints[owner[k]])) for k in np.flatnonzero(owner >= 0)
    }
    return assigned, ({host: copy} if len(missing) else {})


def _far_footprint(galaxy: Galaxy, footprints: Sequence[Footprint]) -> Footprint | None:
    """Return the first footprint that misses a galaxy by more than the margin, if any."""
    position = np.array([galaxy.ra]), np.array([galaxy.dec])
    far = (fp for fp in footprints if not fp.contains(*position, margin=-MARGIN)[0])
    return next(far, None)


def _ghost_frame(frame: SdssFrame) -> SdssFrame:
    """Return a copy of a frame under the next field number, written without band i."""
    return dataclasses.replace(frame, field=frame.field + 1, bands=SDSS.bands[:-1])


def _ghost_tile(tile: DesTile) -> DesTile:
    """Return a copy of a tile under a name one arcmin north, written without band i."""
    ra, dec = tile.wcs.wcs.crval
    return dataclasses.replace(tile, name=des_tile_name(ra, dec + 1.0 / 60.0), bands=DES.bands[:-1])


def _sdss_catalog(
    galaxies: Sequence[Galaxy], frame_of: np.ndarray, frames: list[SdssFrame], seed: int
) -> tuple[dict[int, SdssEntry], dict[int, Footprint]]:
    """Return the SDSS entries (with Galaxy Zoo votes) by galaxy index and the ghost frames."""
    code = _SURVEYS.index("sdss")
    assigned, copies = _assign(
        galaxies,
        frame_of,
        frames,
        ghost=_ghost_frame,
        rng=sky_rng(seed, DEFECTS, code),
        exclude=set(),
    )
    votes_rng, measure_rng = sky_rng(seed, VOTES), sky_rng(seed, MEASURE, code)
    per_field: Counter[tuple[int, int, int]] = Counter()
    entries = {}
    for k, (defect, frame) in assigned.items():
        key = (frame.run, frame.camcol, frame.field)
        per_field[key] += 1
        votes = draw_zoo_votes(galaxies[k], rng=votes_rng)
        entries[k] = measure_sdss(
            galaxies[k],
            frame,
            objid=sdss_objid(*key, per_field[key]),
            votes=votes,
            defect=defect,
            rng=measure_rng,
        )
    return entries, copies


def _des_catalog(
    galaxies: Sequence[Galaxy],
    tile_of: np.ndarray,
    tiles: list[DesTile],
    seed: int,
    exclude: set[int],
) -> tuple[dict[int, DesEntry], dict[int, Footprint]]:
    """Return the DES entries by galaxy index and the ghost tiles."""
    code = _SURVEYS.index("des")
    assigned, copies = _assign(
        galaxies,
        tile_of,
        tiles,
        ghost=_ghost_tile,
        rng=sky_rng(seed, DEFECTS, code),
        exclude=exclude,
    )
    rng = sky_rng(seed, MEASURE, code)
    coadd_id = _FIRST_COADD_ID + int(rng.integers(0, 1_000_000))
    entries = {}
    for k, (defect, tile) in sorted(assigned.items(), key=lambda item: (item[1][1].name, item[0])):
        coadd_id += int(rng.integers(1, 50))
        entries[k] = measure_des(galaxies[k], tile, coadd_id=coadd_id, defect=defect, rng=rng)
    return entries, copies


@dataclass(frozen=True)
class _ImageJob:
    """One footprint to render and write, and the ghost copy that shares its pixels."""

    footprint: Footprint
    index: int
    copy: Footprint | None


def _jobs(footprints: Sequence[Footprint], copies: dict[int, Footprint]) -> list[_ImageJob]:
    """Return the image jobs of one survey."""
    return [_ImageJob(fp, k, copies.get(k)) for k, fp in enumerate(footprints)]


@dataclass(frozen=True)
class _Scene:
    """Everything the images show: catalogued galaxies, uncatalogued neighbours and stars."""

    galaxies: list[Galaxy]
    stars: list[Star]


def _scene(layout: Layout, galaxies: list[Galaxy], seed: int) -> _Scene:
    """Add fainter neighbours everywhere, close companions to a few galaxies, and stars."""
    bounds = footprint_bounds([*layout.frames, *layout.tiles])
    rng = sky_rng(seed, NEIGHBOURS)
    ra_min, ra_max, dec_min, dec_max = bounds
    area = (ra_max - ra_min) * math.cos(math.radians(dec_min)) * (dec_max - dec_min) * 3600.0
    n = int(rng.poisson(_NEIGHBOURS_PER_ARCMIN2 * area))
    ra, dec = rng.uniform(ra_min, ra_max, n), rng.uniform(dec_min, dec_max, n)
    neighbours = draw_galaxies(
        ra, dec, rng=rng, mag_range=_NEIGHBOUR_MAGS, first_index=len(galaxies)
    )
    companions = []
    for host in (g for g in galaxies if rng.random() < _BLEND_FRACTION):
        separation, angle = rng.uniform(*_BLEND_SEPARATION) / 3600.0, rng.uniform(0, 2 * math.pi)
        position = (
            np.array([host.ra + separation * math.sin(angle) / math.cos(math.radians(host.dec))]),
            np.array([host.dec + separation * math.cos(angle)]),
        )
        mag = host.mags["sdss"]["r"] + rng.uniform(*_BLEND_FAINTER)
        first = len(galaxies) + len(neighbours) + len(companions)
        companions += draw_galaxies(*position, rng=rng, mag_range=(mag, mag), first_index=first)
    stars = draw_stars(bounds, rng=sky_rng(seed, STARS))
    logger.info(
        "sky: %d uncatalogued neighbours, %d close companions, %d stars",
        len(neighbours),
        len(companions),
        len(stars),
    )
    return _Scene([*galaxies, *neighbours, *companions], stars)


def _write_images(
    scene: _Scene,
    jobs: Sequence[_ImageJob],
    *,
    root: Path,
    seed: int,
    writers: dict[str, Callable[..., Path]],
    conditions: SkyConditions,
) -> None:
    """Render and write all images, a few at a time (numpy, FFTs and bz2 release the GIL)."""
    workers = min(_MAX_WORKERS, os.cpu_count() or 1)
    options = {"root": root, "seed": seed, "writers": writers, "conditions": conditions}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_write_image, scene, job, **options) for job in jobs]
        for done, future in enumerate(as_completed(futures), start=1):
            name = future.result()
            logger.info("sky: wrote image %d of %d (%s)", done, len(futures), name)


def _write_image(
    scene: _Scene,
    job: _ImageJob,
    *,
    root: Path,
    seed: int,
    writers: dict[str, Callable[..., Path]],
    conditions: SkyConditions,
) -> str:
    """Render one footprint; add noise and artefacts band by band and write it (and its copy)."""
    footprint, instrument = job.footprint, conditions.instrument(job.footprint.instrument)
    writer = writers[instrument.name]
    code = _SURVEYS.index(instrument.name)
    images = render_scene(
        scene.galaxies, footprint.wcs, footprint.shape, instrument=instrument, stars=scene.stars
    )
    targets = [footprint] if job.copy is None else [footprint, job.copy]
    for band_index, band in enumerate(instrument.bands):
        rng = sky_rng(seed, NOISE, code, job.index, band_index)
        sigma = sky_sigma_map(instrument, band, footprint.shape, rng=rng)
        image = add_noise(
            images[band], sigma, electrons_per_nmgy=instrument.electrons_per_nmgy, rng=rng
        )
        add_artefacts(
            image,
            instrument.sky_sigma[band],
            rates=conditions.rates(ARTEFACTS[instrument.name]),
            pixel_scale=instrument.pixel_scale,
            rng=sky_rng(seed, ARTEFACT_STREAM, code, job.index, band_index),
        )
        for target in targets:
            if band in target.bands:
                writer(image, target, band, root=root, sigma=sigma)
    return footprint.label


def _write_catalogs(
    root: Path,
    galaxies: Sequence[Galaxy],
    sdss: dict[int, SdssEntry],
    des: dict[int, DesEntry],
    *,
    seed: int,
    sizes: tuple[int, int],
) -> SkyManifest:
    """Write the four CSV files and return the manifest."""
    sdss_entries = list(sdss.values())
    gz_rows = [gz_row(e) for e in sorted(sdss_entries, key=lambda e: e.ra)]
    rng = sky_rng(seed, DUPLICATES)
    n_dup = max(1, round(_DUPLICATE_RATE * len(gz_rows)))
    for position in sorted(rng.choice(len(gz_rows), n_dup, replace=False), reverse=True):
        gz_rows.insert(position + 1, gz_rows[position])
    photoobj = [photoobj_row(e) for e in sorted(sdss_entries, key=lambda e: e.objid)]
    des_rows = [des_row(e) for e in sorted(des.values(), key=lambda e: e.coadd_id)]
    truth = [truth_row(g, sdss.get(g.index), des.get(g.index)) for g in galaxies]
    defects = sum(bool(e.defect) for e in (*sdss_entries, *des.values()))
    manifest = SkyManifest(
        root=root,
        gz_table=write_csv(root / GZ_TABLE, GZ_COLUMNS, gz_rows),
        sdss_photoobj=write_csv(root / SDSS_PHOTOOBJ, PHOTOOBJ_COLUMNS, photoobj),
        sdss_frames_dir=root.joinpath(*SDSS_FRAMES_DIR),
        des_catalog=write_csv(root / DES_CATALOG, DES_COLUMNS, des_rows),
        des_tiles_dir=root.joinpath(*DES_TILES_DIR),
        truth=write_csv(root / TRUTH, TRUTH_COLUMNS, truth),
        n_galaxies=len(galaxies),
        n_sdss=len(sdss),
        n_des=len(des),
        n_both=len(sdss.keys() & des.keys()),
        n_frames=sizes[0],
        n_tiles=sizes[1],
        n_defects=defects,
    )
    logger.info("sky: wrote %d galaxies under %s", len(galaxies), root)
    return manifest

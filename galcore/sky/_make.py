"""make_sky: lay out SDSS frames and DES tiles, place galaxies, write every survey file.

Layout: DES tiles stand in columns along Dec in Stripe 82 (RA ~ 10 deg, Dec ~ 0); rotated SDSS
frames lie over them, and a few more west of them. Candidate galaxy positions lie on a jittered
grid (at least 40 arcsec apart); each is sorted by the footprints that hold it at least 40 arcsec
inside their edges: in both surveys, in SDSS only (outside every tile) or in DES only (outside every
frame). Frames and tiles are added until each kind has enough candidates.
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
from galcore.sky._population import candidate_positions, draw_galaxies, draw_zoo_votes
from galcore.sky._render import DES, SDSS, add_noise, render_scene, sky_sigma_map
from galcore.sky._writers import (
    DES_CATALOG,
    DES_COLUMNS,
    DES_TILES_DIR,
    GZ_COLUMNS,
    GZ_TABLE,
    PHOTOOBJ_COLUMNS,
    SDSS_FRAMES_DIR,
    SDSS_PHOTOOBJ,
    TRUTH,
    TRUTH_COLUMNS,
    DesTile,
    SdssFrame,
    des_row,
    des_tile_name,
    gz_row,
    measure_des,
    measure_sdss,
    photoobj_row,
    sdss_objid,
    tan_header,
    truth_row,
    write_csv,
    write_des_tile,
    write_sdss_frame,
)
from galcore.sky._writers_dr7 import write_fpc_frame

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from galcore.sky._population import Galaxy
    from galcore.sky._writers import DesEntry, Footprint, SdssEntry

logger = logging.getLogger(__name__)

_SKY_CENTRE = (10.0, 0.0)  # Stripe 82, where SDSS and DES overlap
_MAX_DEC_ARCMIN = 72.0  # stay inside the stripe (|Dec| < 1.25 deg)
_ROW_GAP_ARCMIN = 1.0  # between tiles of a column
_COLUMN_GAP_ARCMIN = 2.0  # at least, between columns of tiles
_MARGIN = 40.0  # arcsec between a catalogued galaxy and the edges of its images
_SPACING, _JITTER = 46.0, 3.0  # arcsec: galaxies at least 40 arcsec apart
_SHARED_FRACTION = 0.75  # of the SDSS galaxies that DES sees too
_ROTATION_RANGE = (20.0, 70.0)  # degrees, one angle per SDSS run
_DEFECT_RATE = 0.0075  # per survey and per kind of defect
_MIN_FOR_DEFECTS = 20  # smaller skies have no defects
_DUPLICATE_RATE = 0.005  # Galaxy Zoo rows written twice
_FIRST_COADD_ID = 61_000_000
_IMAGE_LIMITS = (1024, 4096)
_TILE_LIMITS = (1024, 10_000)
_KINDS = ("both", "sdss", "des")
_SURVEYS = ("sdss", "des")
_WRITERS: dict[str, Callable[..., Path]] = {"sdss": write_sdss_frame, "des": write_des_tile}
SDSS_FORMATS: dict[str, Callable[..., Path]] = {"dr8": write_sdss_frame, "dr7": write_fpc_frame}
_MAX_WORKERS = 4
# Independent random streams, so each stage is reproducible on its own.
_FRAMES, _CANDIDATES, _PLACEMENT, _VOTES, _DEFECTS, _MEASURE, _NOISE, _DUPLICATES = range(8)


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
    grid = _Grid.build(tile_size, frame_shape, seed)
    layout = _plan(grid, counts, seed)
    logger.info("sky: %d SDSS frames and %d DES tiles", len(layout.frames), len(layout.tiles))
    galaxies, frame_of, tile_of = _place(layout, counts, seed)
    sdss, ghost_frames = _sdss_catalog(galaxies, frame_of, layout.frames, seed)
    bad_in_sdss = {k for k, entry in sdss.items() if entry.defect}
    des, ghost_tiles = _des_catalog(galaxies, tile_of, layout.tiles, seed, bad_in_sdss)
    jobs = [*_jobs(layout.frames, ghost_frames), *_jobs(layout.tiles, ghost_tiles)]
    writers = {**_WRITERS, "sdss": SDSS_FORMATS[sdss_format]}
    _write_images(galaxies, jobs, root=root, seed=seed, writers=writers)
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


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """Return the random stream of one stage (and item) of the sky."""
    return np.random.default_rng([seed, *keys])


@dataclass(frozen=True)
class _Grid:
    """Where the tiles and frames go (angles in degrees).

    Tiles fill columns along Dec, slot after slot. Frames "over" tiles sit on every
    ``stride``-th tile slot, or ``per_axis`` x ``per_axis`` of them on each tile when frames are
    smaller than tiles. "Lone" frames stand in columns west of all tiles, for SDSS-only galaxies.
    """

    tile_size: int
    frame_shape: tuple[int, int]
    seed: int
    side: float  # of a tile
    ra_step: float  # between tile columns: whole minutes of RA, so tile names differ
    dec_step: float  # between tiles of a column: whole, even arcminutes
    rows: int  # tiles per column
    box: float  # widest extent of a frame rotated by 45 degrees
    per_axis: int
    stride: int

    @classmethod
    def build(cls, tile_size: int, frame_shape: tuple[int, int], seed: int) -> _Grid:
        """Return the grid for tiles and frames of given sizes."""
        side = tile_size * DES.pixel_scale / 60.0  # arcmin from here on
        ra_minutes = math.ceil((side + _COLUMN_GAP_ARCMIN) / 15.0)
        dec_step = 2 * math.ceil((side + _ROW_GAP_ARCMIN) / 2.0)
        rows = math.floor(_MAX_DEC_ARCMIN / dec_step + 0.5) + 1
        box = sum(frame_shape) * SDSS.pixel_scale / 60.0 / math.sqrt(2.0)
        per_axis = max(1, math.floor(side / box))
        stride = max(1, math.ceil(box / dec_step)) if per_axis == 1 else 1
        degrees = (side / 60.0, ra_minutes / 4.0, dec_step / 60.0)
        return cls(tile_size, frame_shape, seed, *degrees, rows, box / 60.0, per_axis, stride)

    def centre(self, index: int) -> tuple[float, float]:
        """Return the centre of tile slot ``index``: columns east, rows north from -step/2."""
        column, row = divmod(index, self.rows)
        return _SKY_CENTRE[0] + column * self.ra_step, (row - 0.5) * self.dec_step

    def tile(self, index: int) -> DesTile:
        """Return tile ``index``."""
        centre = self.centre(index)
        shape = (self.tile_size, self.tile_size)
        header = tan_header(centre, shape, scale=DES.pixel_scale, rotation=0.0)
        return DesTile(header, shape, name=des_tile_name(*centre))

    def over_tile(self, slot: int) -> int:
        """Return the tile slot under frame slot ``slot``."""
        return slot // self.per_axis**2 * self.stride

    def over_centre(self, slot: int) -> tuple[float, float]:
        """Return the centre of the frame slot ``slot`` over the tiles."""
        ra, dec = self.centre(self.over_tile(slot))
        across, up = divmod(slot % self.per_axis**2, self.per_axis)
        step, middle = self.side / self.per_axis, (self.per_axis - 1) / 2.0
        return ra + (across - middle) * step, dec + (up - middle) * step

    def lone_centre(self, slot: int) -> tuple[float, float]:
        """Return the centre of the frame slot ``slot`` west of all tiles."""
        per_column = math.floor(_MAX_DEC_ARCMIN / 60.0 / self.box) + 1
        column, row = divmod(slot, per_column)
        west = self.side / 2.0 + _COLUMN_GAP_ARCMIN / 60.0 + (column + 0.5) * self.box
        return _SKY_CENTRE[0] - west, (row - 0.5) * self.box

    def frame(self, index: int, centre: tuple[float, float]) -> SdssFrame:
        """Return frame ``index`` at ``centre``, with its own run and rotation."""
        rng = _rng(self.seed, _FRAMES, index)
        run = 1000 + 100 * index + int(rng.integers(0, 100))
        camcol, field = int(rng.integers(1, 7)), int(rng.integers(11, 800))
        rotation = rng.uniform(*_ROTATION_RANGE)
        header = tan_header(centre, self.frame_shape, scale=SDSS.pixel_scale, rotation=rotation)
        return SdssFrame(header, self.frame_shape, run=run, camcol=camcol, field=field)


@dataclass(frozen=True)
class _Layout:
    """Footprints and the candidate positions they hold."""

    frames: list[SdssFrame]
    tiles: list[DesTile]
    ra: np.ndarray
    dec: np.ndarray
    frame_of: np.ndarray  # frame holding each candidate with margin, -1 if none
    tile_of: np.ndarray
    pools: dict[str, np.ndarray]  # candidates of each kind


def _plan(grid: _Grid, counts: dict[str, int], seed: int) -> _Layout:
    """Add frames and tiles until every kind of galaxy has enough candidate positions.

    Each round adds about half of what the current yield per footprint says is missing (at
    most doubling the footprints that supply the kind), so few rounds are needed.
    """
    tiles = [grid.tile(0), grid.tile(1)]
    frames = [grid.frame(0, grid.over_centre(0)), grid.frame(1, grid.lone_centre(0))]
    slots = {"both": 1, "sdss": 1}  # frame slots used over the tiles and west of them
    while True:
        layout = _layout(frames, tiles, seed)
        short = [kind for kind in _KINDS if len(layout.pools[kind]) < counts[kind]]
        if not short:
            return layout
        kind = short[0]
        suppliers = slots.get(kind, len(tiles))
        found = len(layout.pools[kind])
        wanted = (counts[kind] - found) * suppliers // (2 * max(found, 1))
        for _ in range(min(max(wanted, 1), suppliers)):
            _grow(kind, grid, frames, tiles, slots)


def _grow(
    kind: str, grid: _Grid, frames: list[SdssFrame], tiles: list[DesTile], slots: dict[str, int]
) -> None:
    """Add a frame or tile for a kind of galaxy that lacks positions (and tiles under it)."""
    if kind == "des":
        tiles.append(grid.tile(len(tiles)))
        return
    if kind == "sdss":
        centre = grid.lone_centre(slots[kind])
    else:
        while grid.over_tile(slots[kind]) >= len(tiles):
            tiles.append(grid.tile(len(tiles)))
        centre = grid.over_centre(slots[kind])
    slots[kind] += 1
    frames.append(grid.frame(len(frames), centre))


def _layout(frames: list[SdssFrame], tiles: list[DesTile], seed: int) -> _Layout:
    """Return the candidate positions of a set of frames and tiles, sorted by kind."""
    ra, dec = candidate_positions(
        _bounds([*frames, *tiles]), spacing=_SPACING, jitter=_JITTER, rng=_rng(seed, _CANDIDATES)
    )
    frame_of, near_frame = _owners(frames, ra, dec)
    tile_of, near_tile = _owners(tiles, ra, dec)
    pools = {
        "both": np.flatnonzero((frame_of >= 0) & (tile_of >= 0)),
        "sdss": np.flatnonzero((frame_of >= 0) & (tile_of < 0) & ~near_tile),
        "des": np.flatnonzero((tile_of >= 0) & (frame_of < 0) & ~near_frame),
    }
    return _Layout(list(frames), list(tiles), ra, dec, frame_of, tile_of, pools)


def _bounds(footprints: Sequence[Footprint]) -> tuple[float, float, float, float]:
    """Return (ra_min, ra_max, dec_min, dec_max) around the corners of all footprints."""
    corners = []
    for footprint in footprints:
        ny, nx = footprint.shape
        x, y = np.array([0, nx, 0, nx]) - 0.5, np.array([0, 0, ny, ny]) - 0.5
        corners.append(np.stack(footprint.wcs.all_pix2world(x, y, 0)))
    ra, dec = np.concatenate(corners, axis=1)
    return float(ra.min()), float(ra.max()), float(dec.min()), float(dec.max())


def _owners(
    footprints: Sequence[Footprint], ra: np.ndarray, dec: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the first footprint holding each position with margin, and the unheld on an image."""
    owner = np.full(ra.shape, -1)
    near = np.zeros(ra.shape, dtype=bool)
    for index, footprint in enumerate(footprints):
        inner = footprint.contains(ra, dec, margin=_MARGIN)
        owner[(owner < 0) & inner] = index
        near |= footprint.contains(ra, dec, margin=0.0)
    return owner, near & (owner < 0)


def _place(
    layout: _Layout, counts: dict[str, int], seed: int
) -> tuple[list[Galaxy], np.ndarray, np.ndarray]:
    """Draw the galaxies at random candidate positions of each kind."""
    rng = _rng(seed, _PLACEMENT)
    chosen = [rng.choice(layout.pools[k], counts[k], replace=False) for k in _KINDS]
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
    far = (fp for fp in footprints if not fp.contains(*position, margin=-_MARGIN)[0])
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
        rng=_rng(seed, _DEFECTS, code),
        exclude=set(),
    )
    votes_rng, measure_rng = _rng(seed, _VOTES), _rng(seed, _MEASURE, code)
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
        galaxies, tile_of, tiles, ghost=_ghost_tile, rng=_rng(seed, _DEFECTS, code), exclude=exclude
    )
    rng = _rng(seed, _MEASURE, code)
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


def _write_images(
    galaxies: Sequence[Galaxy],
    jobs: Sequence[_ImageJob],
    *,
    root: Path,
    seed: int,
    writers: dict[str, Callable[..., Path]],
) -> None:
    """Render and write all images, a few at a time (numpy, FFTs and bz2 release the GIL)."""
    workers = min(_MAX_WORKERS, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_write_image, galaxies, job, root=root, seed=seed, writers=writers)
            for job in jobs
        ]
        for done, future in enumerate(as_completed(futures), start=1):
            name = future.result()
            logger.info("sky: wrote image %d of %d (%s)", done, len(futures), name)


def _write_image(
    galaxies: Sequence[Galaxy],
    job: _ImageJob,
    *,
    root: Path,
    seed: int,
    writers: dict[str, Callable[..., Path]],
) -> str:
    """Render one footprint, add noise band by band and write it (and its copy)."""
    footprint, instrument = job.footprint, job.footprint.instrument
    writer = writers[instrument.name]
    code = _SURVEYS.index(instrument.name)
    scene = render_scene(galaxies, footprint.wcs, footprint.shape, instrument=instrument)
    targets = [footprint] if job.copy is None else [footprint, job.copy]
    for band_index, band in enumerate(instrument.bands):
        rng = _rng(seed, _NOISE, code, job.index, band_index)
        sigma = sky_sigma_map(instrument, band, footprint.shape, rng=rng)
        image = add_noise(
            scene[band], sigma, electrons_per_nmgy=instrument.electrons_per_nmgy, rng=rng
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
    rng = _rng(seed, _DUPLICATES)
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

"""Where the SDSS frames and DES tiles lie, and the candidate galaxy positions they hold.

DES tiles stand in columns along Dec in Stripe 82 (RA ~ 10 deg, Dec ~ 0); rotated SDSS frames lie
over them, and a few more west of them. Candidate galaxy positions lie on a jittered grid (at
least 40 arcsec apart); each is sorted by the footprints that hold it at least 14 arcsec inside
their edges: in both surveys, in SDSS only (outside every tile) or in DES only (outside every
frame). Frames and tiles are added until each kind has enough candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from galcore.sky._population import candidate_positions
from galcore.sky._render import DES, SDSS
from galcore.sky._writers import DesTile, SdssFrame, des_tile_name, tan_header

if TYPE_CHECKING:
    from collections.abc import Sequence

    from galcore.sky._writers import Footprint

_SKY_CENTRE = (10.0, 0.0)  # Stripe 82, where SDSS and DES overlap
_MAX_DEC_ARCMIN = 72.0  # stay inside the stripe (|Dec| < 1.25 deg)
_ROW_GAP_ARCMIN = 1.0  # between tiles of a column
_COLUMN_GAP_ARCMIN = 2.0  # at least, between columns of tiles
EDGE_MARGIN = 14.0  # arcsec: catalogued galaxies lie at least this far inside their images,
# so a few have cutouts (40") that run off an edge by up to about 15%
MARGIN = 40.0  # arcsec beyond its edges: "far" from an image (where off_frame defects point)
_SPACING, _JITTER = 46.0, 3.0  # arcsec: galaxies at least 40 arcsec apart
_ROTATION_RANGE = (20.0, 70.0)  # degrees, one angle per SDSS run
KINDS = ("both", "sdss", "des")
# Independent random streams, so each stage of the sky is reproducible on its own.
(
    FRAMES,
    CANDIDATES,
    PLACEMENT,
    VOTES,
    DEFECTS,
    MEASURE,
    NOISE,
    DUPLICATES,
    STARS,
    NEIGHBOURS,
    ARTEFACTS,
) = range(11)


def sky_rng(seed: int, *keys: int) -> np.random.Generator:
    """Return the random stream of one stage (and item) of the sky."""
    return np.random.default_rng([seed, *keys])


@dataclass(frozen=True)
class Grid:
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
    def build(cls, tile_size: int, frame_shape: tuple[int, int], seed: int) -> Grid:
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
        rng = sky_rng(self.seed, FRAMES, index)
        run = 1000 + 100 * index + int(rng.integers(0, 100))
        camcol, field = int(rng.integers(1, 7)), int(rng.integers(11, 800))
        rotation = rng.uniform(*_ROTATION_RANGE)
        header = tan_header(centre, self.frame_shape, scale=SDSS.pixel_scale, rotation=rotation)
        return SdssFrame(header, self.frame_shape, run=run, camcol=camcol, field=field)


@dataclass(frozen=True)
class Layout:
    """Footprints and the candidate positions they hold."""

    frames: list[SdssFrame]
    tiles: list[DesTile]
    ra: np.ndarray
    dec: np.ndarray
    frame_of: np.ndarray  # frame holding each candidate with margin, -1 if none
    tile_of: np.ndarray
    pools: dict[str, np.ndarray]  # candidates of each kind


def plan(grid: Grid, counts: dict[str, int], seed: int) -> Layout:
    """Add frames and tiles until every kind of galaxy has enough candidate positions.

    Each round adds about half of what the current yield per footprint says is missing (at
    most doubling the footprints that supply the kind), so few rounds are needed.
    """
    tiles = [grid.tile(0), grid.tile(1)]
    frames = [grid.frame(0, grid.over_centre(0)), grid.frame(1, grid.lone_centre(0))]
    slots = {"both": 1, "sdss": 1}  # frame slots used over the tiles and west of them
    while True:
        layout = _layout(frames, tiles, seed)
        short = [kind for kind in KINDS if len(layout.pools[kind]) < counts[kind]]
        if not short:
            return layout
        kind = short[0]
        suppliers = slots.get(kind, len(tiles))
        found = len(layout.pools[kind])
        wanted = (counts[kind] - found) * suppliers // (2 * max(found, 1))
        for _ in range(min(max(wanted, 1), suppliers)):
            _grow(kind, grid, frames, tiles, slots)


def _grow(
    kind: str, grid: Grid, frames: list[SdssFrame], tiles: list[DesTile], slots: dict[str, int]
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


def _layout(frames: list[SdssFrame], tiles: list[DesTile], seed: int) -> Layout:
    """Return the candidate positions of a set of frames and tiles, sorted by kind."""
    ra, dec = candidate_positions(
        footprint_bounds([*frames, *tiles]),
        spacing=_SPACING,
        jitter=_JITTER,
        rng=sky_rng(seed, CANDIDATES),
    )
    frame_of, near_frame = _owners(frames, ra, dec)
    tile_of, near_tile = _owners(tiles, ra, dec)
    pools = {
        "both": np.flatnonzero((frame_of >= 0) & (tile_of >= 0)),
        "sdss": np.flatnonzero((frame_of >= 0) & (tile_of < 0) & ~near_tile),
        "des": np.flatnonzero((tile_of >= 0) & (frame_of < 0) & ~near_frame),
    }
    return Layout(list(frames), list(tiles), ra, dec, frame_of, tile_of, pools)


def footprint_bounds(footprints: Sequence[Footprint]) -> tuple[float, float, float, float]:
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
        inner = footprint.contains(ra, dec, margin=EDGE_MARGIN)
        owner[(owner < 0) & inner] = index
        near |= footprint.contains(ra, dec, margin=0.0)
    return owner, near & (owner < 0)

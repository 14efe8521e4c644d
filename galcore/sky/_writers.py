"""Survey image files in their real formats: SDSS frames and DES tiles, and their footprints.

Footprints (`SdssFrame`, `DesTile`) carry the WCS the images are rendered through and know the
exact file names the readers glob for. The catalogs that index them are in `_catalogs.py`.
"""

from __future__ import annotations

import bz2
import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from galcore.sky._render import DES, SDSS, Instrument

if TYPE_CHECKING:
    from pathlib import Path

SDSS_FRAMES_DIR = ("sdss", "frames")
DES_TILES_DIR = ("des", "dr1_tiles")

RERUN = 301
SKY_VERSION = 2
DES_REQNUM = 2622
DES_MAGZERO = 30.0
COUNTS_PER_NMGY = 10.0 ** (0.4 * (DES_MAGZERO - 22.5))

_SDSS_EXPTIME = 53.907456
_NMGY_PER_COUNT = {"g": 0.0038, "r": 0.0046, "i": 0.0063}
_SKY_MAG_PER_ARCSEC2 = {"g": 21.9, "r": 20.9, "i": 20.2}
_SKY_BINNING = 8  # ALLSKY is the sky on an 8x coarser grid
_QUANTIZE = 16  # images keep steps of about sigma / 16, as the survey pipelines do
_DES_TILE_ROWS = 16  # rows per compression tile
_SUBTRACTIVE_DITHER_1 = 1  # fpack's dithered quantisation of floats
_DITHER_SEED_CHECKSUM = -1  # dither seed from the data, so the same image gives the same file
_WEIGHT_PRECISION = 1e-4  # relative quantisation step of WGT
_DES_EDGE = 8  # pixels flagged in MSK along the tile border
_DES_EDGE_BIT = 1


def sdss_objid(run: int, camcol: int, field: int, obj: int) -> int:
    """Pack an SDSS objid: skyVersion, rerun, run, camcol, field and object number.

    Parameters
    ----------
    run, camcol, field : int
        The frame the object was measured on.
    obj : int
        Object number within the field (1-65535).

    Returns
    -------
    int
        Bits 59-62 skyVersion (2), 48-58 rerun (301), 32-47 run, 29-31 camcol, 28 first
        field (0), 16-27 field, 0-15 object.
    """
    return (SKY_VERSION << 59) | (RERUN << 48) | (run << 32) | (camcol << 29) | (field << 16) | obj


def des_tile_name(ra: float, dec: float) -> str:
    """Name a DES tile from its centre: ``DESHHMM±DDMM``.

    Parameters
    ----------
    ra, dec : float
        Tile centre in degrees.

    Returns
    -------
    str
        RA in hours and minutes, Dec in degrees and arcminutes, both rounded.
    """
    hours, minutes = divmod(round((ra % 360.0) / 15.0 * 60.0) % (24 * 60), 60)
    degrees, arcmin = divmod(round(abs(dec) * 60.0), 60)
    sign = "-" if dec < 0 else "+"
    return f"DES{hours:02d}{minutes:02d}{sign}{degrees:02d}{arcmin:02d}"


def tan_header(
    center: tuple[float, float], shape: tuple[int, int], *, scale: float, rotation: float
) -> fits.Header:
    """Return a TAN WCS header with a CD matrix (parity of the sky: east to the left).

    Parameters
    ----------
    center : tuple of float
        (ra, dec) of the image centre in degrees.
    shape : tuple of int
        (ny, nx) of the image.
    scale : float
        Arcsec per pixel.
    rotation : float
        Degrees from north-up (0) to the image's y axis.

    Returns
    -------
    astropy.io.fits.Header
        CTYPE, CRPIX, CRVAL, CUNIT, CD, RADESYS and EQUINOX cards.
    """
    step = scale / 3600.0
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    cards = {
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRPIX1": (shape[1] + 1) / 2.0,
        "CRPIX2": (shape[0] + 1) / 2.0,
        "CRVAL1": center[0],
        "CRVAL2": center[1],
        "CUNIT1": "deg",
        "CUNIT2": "deg",
        "CD1_1": -step * cos,
        "CD1_2": step * sin,
        "CD2_1": step * sin,
        "CD2_2": step * cos,
        "RADESYS": "ICRS",
        "EQUINOX": 2000.0,
    }
    return fits.Header(list(cards.items()))


@dataclass(frozen=True, eq=False)
class Footprint:
    """An image on the sky: its WCS header and size.

    Parameters
    ----------
    header : astropy.io.fits.Header
        WCS cards of the image.
    shape : tuple of int
        (ny, nx).
    """

    instrument: ClassVar[Instrument]
    header: fits.Header
    shape: tuple[int, int]
    wcs: WCS = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wcs", WCS(self.header))

    def pixels(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return 0-based pixel positions of sky positions.

        Parameters
        ----------
        ra, dec : numpy.ndarray
            Degrees.

        Returns
        -------
        tuple of numpy.ndarray
            x and y.
        """
        x, y = self.wcs.all_world2pix(ra, dec, 0)
        return np.asarray(x), np.asarray(y)

    def contains(self, ra: np.ndarray, dec: np.ndarray, *, margin: float) -> np.ndarray:
        """Return which positions lie at least ``margin`` arcsec inside the image edges.

        Parameters
        ----------
        ra, dec : numpy.ndarray
            Degrees.
        margin : float
            Arcsec; a negative margin reaches beyond the edges.

        Returns
        -------
        numpy.ndarray
            Boolean mask.
        """
        x, y = self.pixels(ra, dec)
        pad = margin / self.instrument.pixel_scale - 0.5
        ny, nx = self.shape
        return (x >= pad) & (x <= nx - 1 - pad) & (y >= pad) & (y <= ny - 1 - pad)


@dataclass(frozen=True, eq=False)
class SdssFrame(Footprint):
    """One SDSS field, identified by run, camcol and field.

    Parameters
    ----------
    run, camcol, field : int
        Identify the frame files.
    bands : tuple of str
        Bands written for this field.
    """

    instrument: ClassVar[Instrument] = SDSS
    run: int = 0
    camcol: int = 1
    field: int = 0
    bands: tuple[str, ...] = SDSS.bands

    @property
    def label(self) -> str:
        """Return a short name for messages: ``frame <run>-<camcol>-<field>``."""
        return f"frame {self.run}-{self.camcol}-{self.field}"

    def path(self, root: Path, band: str) -> Path:
        """Return the DR8 frame file of one band under the sky's root folder.

        Parameters
        ----------
        root : pathlib.Path
            The synthetic sky's folder.
        band : str
            The band.

        Returns
        -------
        pathlib.Path
            ``sdss/frames/301/<run>/<camcol>/frame-<band>-<run:06d>-<camcol>-<field:04d>.fits.bz2``.
        """
        name = f"frame-{band}-{self.run:06d}-{self.camcol}-{self.field:04d}.fits.bz2"
        return root.joinpath(*SDSS_FRAMES_DIR, str(RERUN), str(self.run), str(self.camcol), name)


@dataclass(frozen=True, eq=False)
class DesTile(Footprint):
    """One DES coadd tile.

    Parameters
    ----------
    name : str
        ``DESHHMM±DDMM``.
    bands : tuple of str
        Bands written for this tile.
    """

    instrument: ClassVar[Instrument] = DES
    name: str = ""
    bands: tuple[str, ...] = DES.bands

    @property
    def label(self) -> str:
        """Return a short name for messages: ``tile <name>``."""
        return f"tile {self.name}"

    def path(self, root: Path, band: str) -> Path:
        """Return the tile file of one band under the sky's root folder.

        Parameters
        ----------
        root : pathlib.Path
            The synthetic sky's folder.
        band : str
            The band.

        Returns
        -------
        pathlib.Path
            ``des/dr1_tiles/<TILE>/<TILE>_r<reqnum>p01_<band>.fits.fz``.
        """
        filename = f"{self.name}_r{DES_REQNUM}p01_{band}.fits.fz"
        return root.joinpath(*DES_TILES_DIR, self.name, filename)


def _sdss_primary_header(frame: SdssFrame, band: str, sky_sigma: float) -> fits.Header:
    """Return the HDU0 header of a DR8 frame."""
    header = frame.header.copy()
    nmgy = _NMGY_PER_COUNT[band]
    header.update(
        {
            "TELESCOP": ("2.5m", "SDSS telescope"),
            "FILTER": (band, "filter used"),
            "RUN": (frame.run, "run number"),
            "CAMCOL": (frame.camcol, "column in the imaging camera"),
            "FIELD": (frame.field, "field number"),
            "RERUN": (str(RERUN), "rerun"),
            "EXPTIME": (_SDSS_EXPTIME, "exposure time (s)"),
            "BUNIT": ("nanomaggy", "1 nanomaggy = 3.631e-6 Jy"),
            "NMGY": (nmgy, "calibration factor [nMgy/count]"),
            "NMGYIVAR": (1.0 / (0.01 * nmgy) ** 2, "inverse variance of NMGY"),
            "SKYSIG": (sky_sigma, "sky noise [nMgy/pixel]"),
            "SEEING": (SDSS.psf_fwhm[band], "PSF FWHM [arcsec]"),
        }
    )
    header["HISTORY"] = "Synthetic frame written by galcore.sky; not SDSS data."
    return header


def _sdss_sky_table(frame: SdssFrame, band: str) -> fits.BinTableHDU:
    """Return HDU2: the binned sky (counts) and the interpolation grid."""
    ny, nx = frame.shape
    sky_nmgy = 10.0 ** (-0.4 * (_SKY_MAG_PER_ARCSEC2[band] - 22.5)) * SDSS.pixel_scale**2
    binned = (math.ceil(ny / _SKY_BINNING), math.ceil(nx / _SKY_BINNING))
    ramp = 1.0 + 0.02 * np.linspace(-1.0, 1.0, binned[1])[np.newaxis, :]
    allsky = np.broadcast_to(sky_nmgy / _NMGY_PER_COUNT[band] * ramp, binned)
    xinterp = (np.arange(nx) + 0.5) / _SKY_BINNING - 0.5
    yinterp = (np.arange(ny) + 0.5) / _SKY_BINNING - 0.5
    columns = [
        fits.Column(
            name="ALLSKY",
            format=f"{binned[0] * binned[1]}E",
            dim=f"({binned[1]},{binned[0]})",
            array=allsky[np.newaxis].astype(np.float32),
        ),
        fits.Column(name="XINTERP", format=f"{nx}E", array=xinterp[np.newaxis].astype(np.float32)),
        fits.Column(name="YINTERP", format=f"{ny}E", array=yinterp[np.newaxis].astype(np.float32)),
    ]
    return fits.BinTableHDU.from_columns(columns)


def _sdss_astrometry_table(frame: SdssFrame, band: str) -> fits.BinTableHDU:
    """Return HDU3: the affine astrometry (mu, nu) = f(row, col) of the frame."""
    (ra0,), (dec0,) = frame.wcs.all_pix2world([0.0], [0.0], 0)
    cd = frame.wcs.wcs.cd
    values = {
        "RUN": ("J", frame.run),
        "CAMCOL": ("J", frame.camcol),
        "FIELD": ("J", frame.field),
        "FILTER": ("1A", band),
        "NODE": ("D", 95.0),
        "INCL": ("D", 0.0),
        "A": ("D", ra0),
        "B": ("D", cd[0, 1]),
        "C": ("D", cd[0, 0]),
        "D": ("D", dec0),
        "E": ("D", cd[1, 1]),
        "F": ("D", cd[1, 0]),
    }
    columns = [fits.Column(name=k, format=f, array=[v]) for k, (f, v) in values.items()]
    return fits.BinTableHDU.from_columns(columns)


def write_sdss_frame(
    image: np.ndarray, frame: SdssFrame, band: str, *, root: Path, sigma: float | np.ndarray
) -> Path:
    """Write one band of an SDSS frame as a bz2-compressed DR8 ``frame`` file.

    Parameters
    ----------
    image : numpy.ndarray
        Sky-subtracted image in nanomaggies per pixel, shape ``frame.shape``.
    frame : SdssFrame
        The field.
    band : str
        The band.
    root : pathlib.Path
        The synthetic sky's folder.
    sigma : float or numpy.ndarray
        Background noise in nanomaggies; the image is quantised to a power-of-two step near
        ``sigma / 16`` so that bz2 compresses it.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    sky_sigma = float(np.min(sigma))
    step = 2.0 ** round(math.log2(sky_sigma / _QUANTIZE))
    data = (np.round(image / step) * step).astype(np.float32)
    ny, nx = frame.shape
    flat = 1.0 + 0.01 * np.sin(np.linspace(0.0, math.pi, nx))
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(data, _sdss_primary_header(frame, band, sky_sigma)),
            fits.ImageHDU((_NMGY_PER_COUNT[band] * flat).astype(np.float32)),
            _sdss_sky_table(frame, band),
            _sdss_astrometry_table(frame, band),
        ]
    )
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    path = frame.path(root, band)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bz2.compress(buffer.getvalue()))
    return path


def _des_header(tile: DesTile, band: str) -> fits.Header:
    """Return the header shared by the SCI, MSK and WGT extensions of a tile."""
    header = tile.header.copy()
    header.update(
        {
            "TILENAME": (tile.name, "DES tile name"),
            "BAND": (band, "filter band"),
            "MAGZERO": (DES_MAGZERO, "magnitude zero point"),
            "SEEING": (DES.psf_fwhm[band], "PSF FWHM [arcsec]"),
        }
    )
    header["HISTORY"] = "Synthetic tile written by galcore.sky; not DES data."
    return header


def write_des_tile(
    image: np.ndarray, tile: DesTile, band: str, *, root: Path, sigma: float | np.ndarray
) -> Path:
    """Write one band of a DES coadd tile as a RICE tile-compressed ``.fits.fz`` file.

    Parameters
    ----------
    image : numpy.ndarray
        Sky-subtracted image in nanomaggies per pixel, shape ``tile.shape``.
    tile : DesTile
        The tile.
    band : str
        The band.
    root : pathlib.Path
        The synthetic sky's folder.
    sigma : float or numpy.ndarray
        Background noise (map) in nanomaggies per pixel; WGT is 1 / sigma^2 in counts.

    Returns
    -------
    pathlib.Path
        The file written: an empty primary HDU, then SCI (counts at MAGZERO 30), MSK
        (int16, 0 = good) and WGT (inverse variance).
    """
    header = _des_header(tile, band)
    mask = np.zeros(tile.shape, dtype=np.int16)
    mask[:_DES_EDGE] = mask[-_DES_EDGE:] = _DES_EDGE_BIT
    mask[:, :_DES_EDGE] = mask[:, -_DES_EDGE:] = _DES_EDGE_BIT
    weight = np.broadcast_to(1.0 / np.square(sigma * COUNTS_PER_NMGY), tile.shape)
    # SCI is quantised relative to its noise; the smooth WGT map to an absolute step (a
    # negative quantize_level), or its near-zero pixel noise would make the step vanish.
    extensions = {
        "SCI": ((image * COUNTS_PER_NMGY).astype(np.float32), _QUANTIZE),
        "MSK": (mask, _QUANTIZE),
        "WGT": (weight.astype(np.float32), -_WEIGHT_PRECISION * float(np.median(weight))),
    }
    hdus = [fits.PrimaryHDU()]
    for name, (data, level) in extensions.items():
        compressed = fits.CompImageHDU(
            data,
            header,
            name=name,
            compression_type="RICE_1",
            quantize_level=level,
            quantize_method=_SUBTRACTIVE_DITHER_1,
            dither_seed=_DITHER_SEED_CHECKSUM,
            tile_shape=(_DES_TILE_ROWS, tile.shape[1]),
        )
        hdus.append(compressed)
    path = tile.path(root, band)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path

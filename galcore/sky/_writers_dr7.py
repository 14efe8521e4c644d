"""SDSS DR7 files of the synthetic sky: fpC corrected frames (counts) and tsField calibrations.

The same sky-subtracted image in nanomaggies that a DR8 ``frame`` holds is converted back to
counts with a per-field photometric solution (zero point ``aa``, extinction coefficient ``kk``,
``airmass``), the sky level and ``SOFTBIAS`` are added, and the result is rounded to uint16, as
the DR7 frames pipeline wrote it. The solution goes to the field's tsField file. Files follow the
DR7 Data Archive Server layout under ``sdss/frames``::

    <run>/<rerun>/corr/<camcol>/fpC-<run6>-<band><camcol>-<field4>.fit.gz
    <run>/<rerun>/calibChunks/<camcol>/tsField-<run6>-<camcol>-<rerun>-<field4>.fit
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits

from galcore.sky._render import SDSS
from galcore.sky._writers import _SDSS_EXPTIME, _SKY_MAG_PER_ARCSEC2, SDSS_FRAMES_DIR, SdssFrame

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DR7_RERUN",
    "SOFTBIAS",
    "Dr7Calibration",
    "field_calibration",
    "fpc_path",
    "tsfield_path",
    "write_fpc_frame",
    "write_tsfield",
]

DR7_RERUN = 40
SOFTBIAS = 1000
UGRIZ = "ugriz"
# Typical DR7 photometric solutions: zero points near -24, extinction 0.1-0.2 mag per airmass.
_AA = {"u": -23.85, "g": -24.4, "r": -24.0, "i": -23.7, "z": -22.25}
_KK = {"u": 0.49, "g": 0.17, "r": 0.12, "i": 0.10, "z": 0.10}
_AA_SPREAD, _KK_SPREAD = 0.08, 0.02  # field to field
_AIRMASS_RANGE = (1.0, 1.4)
_AIRMASS_STEP = 0.0015  # between the bands of a field, scanned one after the other
_CALIBRATION_STREAM = 0xD7  # the per-field solution is drawn from (run, camcol, field) alone
_UINT16_MAX = 65535
_GZIP_LEVEL = 1  # noisy counts compress about as well at 1 as at 9, thirty times faster


@dataclass(frozen=True)
class Dr7Calibration:
    """The photometric solution of one field: 5-vectors in ugriz order, as float32 values."""

    aa: tuple[float, ...]
    kk: tuple[float, ...]
    airmass: tuple[float, ...]

    def nmgy_per_count(self, band: str) -> float:
        """Return the nanomaggies of one count (DN) in `band`."""
        k = UGRIZ.index(band)
        magnitude_zero = self.aa[k] + self.kk[k] * self.airmass[k]
        return 1e9 * 10.0 ** (0.4 * magnitude_zero) / _SDSS_EXPTIME


def field_calibration(frame: SdssFrame) -> Dr7Calibration:
    """Return the photometric solution of a field, the same whenever it is asked for.

    Parameters
    ----------
    frame : SdssFrame
        The field.

    Returns
    -------
    Dr7Calibration
        ``aa`` within 0.08 of its band's typical value, ``kk`` within 0.02, and an airmass
        between 1.0 and 1.4 (growing slightly from band to band).
    """
    rng = np.random.default_rng([_CALIBRATION_STREAM, frame.run, frame.camcol, frame.field])
    aa = [_AA[b] + rng.uniform(-_AA_SPREAD, _AA_SPREAD) for b in UGRIZ]
    kk = [_KK[b] + rng.uniform(-_KK_SPREAD, _KK_SPREAD) for b in UGRIZ]
    airmass = rng.uniform(*_AIRMASS_RANGE) + _AIRMASS_STEP * np.arange(len(UGRIZ))

    def stored(values: object) -> tuple[float, ...]:
        return tuple(float(v) for v in np.round(np.asarray(values), 4).astype(np.float32))

    return Dr7Calibration(stored(aa), stored(kk), stored(airmass))


def _field_dir(frame: SdssFrame, root: Path, kind: str) -> Path:
    return root.joinpath(*SDSS_FRAMES_DIR, str(frame.run), str(DR7_RERUN), kind, str(frame.camcol))


def fpc_path(frame: SdssFrame, root: Path, band: str) -> Path:
    """Return the fpC file of one band of a field under the sky's root folder."""
    name = f"fpC-{frame.run:06d}-{band}{frame.camcol}-{frame.field:04d}.fit.gz"
    return _field_dir(frame, root, "corr") / name


def tsfield_path(frame: SdssFrame, root: Path) -> Path:
    """Return the tsField file of a field under the sky's root folder."""
    name = f"tsField-{frame.run:06d}-{frame.camcol}-{DR7_RERUN}-{frame.field:04d}.fit"
    return _field_dir(frame, root, "calibChunks") / name


def _sky_counts(band: str, per_count: float) -> float:
    """Return the sky level of a band in counts per pixel."""
    sky_nmgy = 10.0 ** (-0.4 * (_SKY_MAG_PER_ARCSEC2[band] - 22.5)) * SDSS.pixel_scale**2
    return sky_nmgy / per_count


def _fpc_header(
    frame: SdssFrame, band: str, *, per_count: float, sky: float, sigma: float
) -> fits.Header:
    """Return the HDU0 header of an fpC frame: the field's WCS and the frames keywords."""
    header = frame.header.copy()
    header.update(
        {
            "TELESCOP": ("2.5m", "SDSS telescope"),
            "FILTER": (band, "filter used"),
            "RUN": (frame.run, "run number"),
            "CAMCOL": (frame.camcol, "column in the imaging camera"),
            "FIELD": (frame.field, "field number"),
            "RERUN": (DR7_RERUN, "rerun"),
            "BUNITS": ("ADUs", "counts"),
            "SOFTBIAS": (SOFTBIAS, "software 'bias' added to all DN"),
            "SKY": (round(sky, 4), "sky level (DN/pixel), not subtracted"),
            "SKYSIG": (round(sigma / per_count, 4), "sky sigma (DN/pixel)"),
            "SKYERR": (0.01, "error in sky level"),
            "FLUX20": (round(10.0 / per_count, 3), "counts of a 20th magnitude object"),
        }
    )
    header["HISTORY"] = "Synthetic fpC frame written by galcore.sky; not SDSS data."
    return header


def write_fpc_frame(
    image: np.ndarray, frame: SdssFrame, band: str, *, root: Path, sigma: float | np.ndarray
) -> Path:
    """Write one band of an SDSS field as a gzipped DR7 fpC frame (and the field's tsField).

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
        Background noise in nanomaggies (for the ``SKYSIG`` keyword).

    Returns
    -------
    pathlib.Path
        The fpC file written: uint16 counts = nanomaggies / (nanomaggies per count) + sky +
        SOFTBIAS, rounded and clipped to 0-65535, with the same TAN WCS as the DR8 frame.
    """
    calibration = field_calibration(frame)
    per_count = calibration.nmgy_per_count(band)
    sky = _sky_counts(band, per_count)
    counts = np.round(image.astype(np.float64) / per_count + sky + SOFTBIAS)
    data = np.clip(counts, 0, _UINT16_MAX).astype(np.uint16)
    header = _fpc_header(frame, band, per_count=per_count, sky=sky, sigma=float(np.min(sigma)))
    buffer = io.BytesIO()
    fits.PrimaryHDU(data, header).writeto(buffer)
    path = fpc_path(frame, root, band)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=_GZIP_LEVEL, mtime=0))
    if not tsfield_path(frame, root).exists():
        write_tsfield(frame, root)
    return path


def write_tsfield(frame: SdssFrame, root: Path) -> Path:
    """Write the tsField file of a field: HDU1 one row with aa, kk and airmass (ugriz).

    Parameters
    ----------
    frame : SdssFrame
        The field.
    root : pathlib.Path
        The synthetic sky's folder.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    calibration = field_calibration(frame)
    header = fits.Header()
    header.update({"RUN": frame.run, "CAMCOL": frame.camcol, "FIELD": frame.field})
    header["RERUN"] = DR7_RERUN
    header["HISTORY"] = "Synthetic tsField written by galcore.sky; not SDSS data."
    columns = [
        fits.Column(name="run", format="J", array=[frame.run]),
        fits.Column(name="camCol", format="J", array=[frame.camcol]),
        fits.Column(name="field", format="J", array=[frame.field]),
        *(
            fits.Column(name=name, format="5E", array=[np.asarray(values, dtype=np.float32)])
            for name, values in (
                ("aa", calibration.aa),
                ("kk", calibration.kk),
                ("airmass", calibration.airmass),
            )
        ),
    ]
    hdus = fits.HDUList([fits.PrimaryHDU(header=header), fits.BinTableHDU.from_columns(columns)])
    path = tsfield_path(frame, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdus.writeto(path, overwrite=True)
    return path

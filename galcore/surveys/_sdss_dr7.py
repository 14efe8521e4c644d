"""SDSS DR7 (legacy): fpC corrected frames, calibrated with the photometric solution of tsField.

An fpC frame holds uint16 counts (DN) with ``SOFTBIAS`` added and the sky not subtracted (DR1 and
later store the sky fit in the ``SKY`` keyword). Its calibration lives in the field's tsField
file: zero point ``aa``, extinction coefficient ``kk`` and ``airmass``, 5-vectors in ugriz order
(SDSS DR7, "counts to magnitudes")::

    f / f0 = (counts - SOFTBIAS - sky) / exptime * 10 ** (0.4 * (aa + kk * airmass))

and nanomaggies = 1e9 * f / f0, with exptime = 53.907456 s.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
from astropy.io import fits

from galcore.errors import UnitsError, UnreadableFileError
from galcore.surveys._fits import as_float_image, celestial_wcs, read_hdus
from galcore.surveys._images import SurveyImage

__all__ = [
    "EXPTIME",
    "SOFTBIAS",
    "TSFIELD_COLUMNS",
    "estimate_sky",
    "find_fpc_frames",
    "find_tsfields",
    "fpc_key",
    "nmgy_per_count",
    "read_fpc",
    "tsfield_calibrations",
]

logger = logging.getLogger(__name__)

EXPTIME = 53.907456
"""Seconds of drift-scan exposure of every SDSS imaging frame."""
SOFTBIAS = 1000
"""The software bias SDSS adds to fpC pixels (the file's ``SOFTBIAS`` keyword is what is used)."""
TSFIELD_COLUMNS = ("aa", "kk", "airmass")
SDSS_BANDS = "ugriz"

_FPC_NAME = re.compile(r"^fpC-(\d{6})-([ugriz])(\d)-(\d{4})\.fit(\.gz)?$")
_TSFIELD_NAME = re.compile(r"^tsField-(\d{6})-(\d)-(\d+)-(\d{4})\.fit(\.gz)?$")
_CLIP_SIGMA = 3.0
_CLIP_ITERATIONS = 10
_SKY_SAMPLE = 2  # the sky is estimated from every 2nd pixel of every 2nd row
_MAD_TO_SIGMA = 1.4826

FrameKey = tuple[str, int, int, int]
"""(band, run, camcol, field)."""
FieldKey = tuple[int, int, int]
"""(run, camcol, field)."""


def fpc_key(path: Path) -> FrameKey | None:
    """Return (band, run, camcol, field) of an fpC file name, or None for any other name."""
    match = _FPC_NAME.match(Path(path).name)
    if match is None:
        return None
    run, band, camcol, field, _ = match.groups()
    return band, int(run), int(camcol), int(field)


def _tsfield_pattern(run: int, camcol: int, field: int) -> str:
    return f"tsField-{run:06d}-{camcol}-*-{field:04d}.fit"


def find_fpc_frames(root: Path) -> dict[FrameKey, Path]:
    """Find DR7 ``fpC-{run6}-{band}{camcol}-{field4}.fit[.gz]`` files anywhere under `root`.

    Where a frame is there both plain and gzipped, the plain ``.fit`` is kept.
    """
    frames: dict[FrameKey, Path] = {}
    for path in sorted(root.rglob("fpC-*.fit*"), key=lambda p: (p.name, str(p))):
        key = fpc_key(path)
        if key is not None and (key not in frames or frames[key].suffix == ".gz"):
            frames[key] = path
    return frames


def find_tsfields(root: Path) -> dict[FieldKey, Path]:
    """Find ``tsField-{run6}-{camcol}-{rerun}-{field4}.fit`` files anywhere under `root`.

    A field found under several reruns keeps the highest rerun (the latest processing).
    """
    found: dict[FieldKey, tuple[int, Path]] = {}
    for path in sorted(root.rglob("tsField-*.fit*")):
        match = _TSFIELD_NAME.match(path.name)
        if match is None:
            continue
        run, camcol, rerun, field, _ = match.groups()
        key = (int(run), int(camcol), int(field))
        if key not in found or int(rerun) > found[key][0]:
            found[key] = (int(rerun), path)
    return {key: path for key, (_, path) in found.items()}


def tsfield_calibrations(frames: dict[FrameKey, Path], root: Path) -> dict[FrameKey, Path]:
    """Return the tsField file of each DR7 frame among `frames` that has one under `root`."""
    dr7 = [key for key, path in frames.items() if fpc_key(path) is not None]
    if not dr7:
        return {}
    tsfields = find_tsfields(root)
    calibrations = {key: tsfields[key[1:]] for key in dr7 if key[1:] in tsfields}
    logger.info("%s: %d DR7 fpC frames, %d with their tsField", root, len(dr7), len(calibrations))
    return calibrations


def read_fpc(path: Path, tsfield: Path | None) -> SurveyImage:
    """Read a DR7 fpC frame as surface brightness in nanomaggies per square arcsecond.

    SOFTBIAS and the sky (the header's ``SKY``, else a sigma-clipped median of the frame) are
    subtracted, and the counts calibrated with the zero point, extinction coefficient and
    airmass of the field's tsField file.

    Parameters
    ----------
    path
        The ``fpC-*.fit[.gz]`` file.
    tsfield
        The field's ``tsField-*.fit`` file; None if there is none.

    Raises
    ------
    UnitsError
        If there is no tsField, the tsField lacks ``aa``, ``kk`` or ``airmass`` (or holds no
        finite value for the band), or the header has no ``SOFTBIAS``.
    UnreadableFileError
        If the fpC or tsField file cannot be read, or the fpC header has no celestial WCS.
    """
    key = fpc_key(path)
    if key is None:
        msg = f"{path}: not an fpC-{{run6}}-{{band}}{{camcol}}-{{field4}}.fit[.gz] file name"
        raise UnreadableFileError(msg)
    band, run, camcol, field = key
    if tsfield is None:
        msg = (
            f"{path}: no {_tsfield_pattern(run, camcol, field)} (the field's photometric"
            " solution: aa, kk, airmass), so its counts cannot be calibrated to nanomaggies;"
            " put the field's tsField file under --sdss-frames, or give the DR8"
            " frame-*.fits.bz2 of this field"
        )
        raise UnitsError(msg)
    (primary,) = read_hdus(path, (0,)).values()
    counts = as_float_image(primary.data, path)
    try:
        wcs = celestial_wcs(primary.header, path)
    except UnreadableFileError as error:
        msg = (
            f"{path}: the fpC header has no celestial WCS (real fpC astrometry is in the"
            " field's asTrans file, which galcore does not read); give the DR8"
            " frame-*.fits.bz2 of this field, whose header carries the WCS"
        )
        raise UnreadableFileError(msg) from error
    counts -= np.float32(_softbias(primary.header, path))
    sky = _header_sky(primary.header)
    if sky is None:
        sky = estimate_sky(counts)
        logger.debug("%s: no SKY keyword; estimated sky %.2f DN", path.name, sky)
    scale = nmgy_per_count(tsfield, band, fpc=path)
    image = SurveyImage(counts, wcs, path)
    per_arcsec2 = scale / image.pixel_scale_arcsec**2
    return SurveyImage(((counts - np.float32(sky)) * np.float32(per_arcsec2)), wcs, path)


def _softbias(header: fits.Header, path: Path) -> float:
    """Return the header's SOFTBIAS, or raise UnitsError: the zero of the counts is unknown."""
    value = header.get("SOFTBIAS")
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        msg = (
            f"{path}: no SOFTBIAS in the fpC header, so the zero of its counts is unknown;"
            " give the fpC file as SDSS distributes it, or the DR8 frame-*.fits.bz2 of this field"
        )
        raise UnitsError(msg)
    return float(value)


def _header_sky(header: fits.Header) -> float | None:
    """Return the fpC header's SKY fit (DN, above SOFTBIAS) if it holds a finite number."""
    value = header.get("SKY")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def nmgy_per_count(tsfield: Path, band: str, *, fpc: Path) -> float:
    """Return the nanomaggies of one count (DN) of `band`, from the tsField's aa, kk, airmass.

    Raises
    ------
    UnitsError
        If the tsField has no one-row table with the aa, kk and airmass 5-vectors (ugriz), or
        they hold no finite value for `band`; the message names the fpC file `fpc`.
    UnreadableFileError
        If the tsField cannot be read as FITS.
    """
    try:
        (table,) = read_hdus(tsfield, (1,)).values()
    except UnreadableFileError as error:
        msg = f"{fpc}: its tsField {error}"
        raise UnreadableFileError(msg) from error
    fix = "give the tsField file of this field as SDSS distributes it"
    names = [] if table is None or table.data is None else list(table.data.columns.names)
    lowered = {name.lower(): name for name in names}
    missing = [name for name in TSFIELD_COLUMNS if name not in lowered]
    if missing or len(table.data) < 1:
        what = f"columns {', '.join(missing)}" if missing else "rows"
        msg = (
            f"{fpc}: its tsField {tsfield} has no {what} in HDU1 (the photometric solution),"
            f" so the counts cannot be calibrated to nanomaggies; {fix}"
        )
        raise UnitsError(msg)
    index = SDSS_BANDS.index(band)
    values = {}
    for name in TSFIELD_COLUMNS:
        vector = np.ravel(np.asarray(table.data[lowered[name]][0], dtype=np.float64))
        value = vector[index] if vector.size == len(SDSS_BANDS) else math.nan
        if not math.isfinite(value):
            msg = (
                f"{fpc}: its tsField {tsfield} holds no finite {name} for band {band} (a"
                f" 5-vector in ugriz order is expected), so the counts cannot be calibrated; {fix}"
            )
            raise UnitsError(msg)
        values[name] = float(value)
    magnitude_zero = values["aa"] + values["kk"] * values["airmass"]
    return 1e9 * 10.0 ** (0.4 * magnitude_zero) / EXPTIME


def estimate_sky(counts: np.ndarray) -> float:
    """Return the sky of a bias-subtracted frame: an iteratively 3-sigma-clipped median.

    The clipping width comes from the median absolute deviation; integer counts take the
    median of grouped data (interpolated within the count where half the pixels are reached),
    so the estimate is not rounded to whole or half counts.
    """
    values = np.asarray(counts[::_SKY_SAMPLE, ::_SKY_SAMPLE], dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    centre = _median(values)
    for _ in range(_CLIP_ITERATIONS):
        sigma = _MAD_TO_SIGMA * float(np.median(np.abs(values - centre)))
        if sigma <= 0.0:
            break
        kept = values[np.abs(values - centre) <= _CLIP_SIGMA * sigma]
        updated = _median(kept)
        converged = abs(updated - centre) < 1e-3 * sigma
        centre = updated
        if converged:
            break
    return centre


def _median(values: np.ndarray) -> float:
    """Median; for whole numbers, the median of grouped data (unit-wide bins)."""
    if not np.array_equal(values, np.round(values)):
        return float(np.median(values))
    low = values.min()
    histogram = np.bincount((values - low).astype(np.int64))
    cumulative = np.cumsum(histogram)
    half = values.size / 2.0
    k = int(np.searchsorted(cumulative, half))
    below = cumulative[k] - histogram[k]
    return float(low + k - 0.5 + (half - below) / histogram[k])

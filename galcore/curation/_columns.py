"""What a curation writes besides images: object columns, image groups, sets, provenance."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from galcore.curation._config import CurationConfig
from galcore.curation._groups import BANDS, ImageGroup
from galcore.curation._inputs import SurveyInputs
from galcore.curation._sets import assign_sets
from galcore.surveys import (
    DES_PIXEL_SCALE_ARCSEC,
    EL_THRESHOLD,
    SPIRAL_THRESHOLD,
    find_frames,
    find_tiles,
    tsfield_calibrations,
)
from store.schema import NO_LABEL, OBJECT_COLUMNS, SURVEYS

__all__ = ["GALAXY_ZOO_COLUMNS", "catalog_sets", "image_groups", "object_columns", "provenance"]

GALAXY_ZOO_COLUMNS = ("label", "gz_nvote", "gz_p_el", "gz_p_cs")
"""Columns that belong to the galaxy, not to a survey's view of it: a DES match has them too."""


def object_columns(
    sdss: pd.DataFrame, des: pd.DataFrame, pairs: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Object columns of the SDSS rows followed by the DES rows."""
    n_sdss, n = len(sdss), len(sdss) + len(des)
    sdss_rows, des_rows = pairs[0], pairs[1] + n_sdss
    columns = {
        name: np.full(n, np.nan if dtype.kind == "f" else 0, dtype=dtype)
        for name, dtype in OBJECT_COLUMNS.items()
    }
    columns["object_id"] = np.concatenate([sdss.index.to_numpy(), des.index.to_numpy()])
    columns["survey"] = np.repeat(np.arange(2, dtype=np.uint8), [n_sdss, len(des)])
    columns["ra"] = np.concatenate([sdss["ra"].to_numpy(), des["RA"].to_numpy()])
    columns["dec"] = np.concatenate([sdss["dec"].to_numpy(), des["DEC"].to_numpy()])
    for band in "gri":
        columns[f"mag_{band}"] = np.concatenate(
            [sdss[band], des[f"MAG_AUTO_{band.upper()}"]]
        ).astype(np.float32)
    radius = des["FLUX_RADIUS_R"].to_numpy() * DES_PIXEL_SCALE_ARCSEC
    columns["radius"] = np.concatenate([sdss["petroRad_r"].to_numpy(), radius]).astype(np.float32)
    columns["match_index"] = np.full(n, -1, dtype=np.int64)
    columns["match_index"][sdss_rows], columns["match_index"][des_rows] = des_rows, sdss_rows
    columns["label"] = np.full(n, NO_LABEL, dtype=np.int8)
    columns["label"][:n_sdss] = sdss["label"].fillna(NO_LABEL).to_numpy()
    columns["gz_nvote"] = np.zeros(n, dtype=np.int16)
    columns["gz_nvote"][:n_sdss] = sdss["nvote"].fillna(0).to_numpy()
    columns["gz_p_el"][:n_sdss] = sdss["p_el"].to_numpy()
    columns["gz_p_cs"][:n_sdss] = sdss["p_cs"].to_numpy()
    for name in GALAXY_ZOO_COLUMNS:
        columns[name][des_rows] = columns[name][sdss_rows]
    columns["sets"] = np.zeros(n, dtype=np.uint8)
    columns["status"] = np.zeros(n, dtype=np.uint8)
    return columns


def _sdss_groups(sdss: pd.DataFrame, frames_dir: Path) -> Iterator[ImageGroup]:
    """One group per SDSS field, in row order; DR7 frames carry their tsField."""
    frames = find_frames(frames_dir)
    tsfields = tsfield_calibrations(frames, frames_dir)
    start = 0
    for (run, camcol, fld), rows in sdss.groupby(["run", "camcol", "field"], sort=False):
        keys = {b: (b, int(run), int(camcol), int(fld)) for b in BANDS}
        expected = {
            b: f"frame-{b}-{run:06d}-{camcol}-{fld:04d}.fits.bz2 (or DR7"
            f" fpC-{run:06d}-{b}{camcol}-{fld:04d}.fit[.gz]) under {frames_dir}"
            for b in BANDS
        }
        group = _group("sdss", start, rows.index, rows["ra"], rows["dec"], frames, keys, expected)
        calibrations = {b: tsfields[key] for b, key in keys.items() if key in tsfields}
        yield dataclasses.replace(group, calibrations=calibrations)
        start += len(rows)


def _des_groups(des: pd.DataFrame, tiles_dir: Path, start: int) -> Iterator[ImageGroup]:
    """One group per DES tile, in row order, rows numbered from `start`."""
    tiles = find_tiles(tiles_dir)
    for tile, rows in des.groupby("TILENAME", sort=False):
        keys = {b: (tile, b) for b in BANDS}
        expected = {b: f"{tile}_r*p*_{b}.fits.fz under {tiles_dir}" for b in BANDS}
        yield _group("des", start, rows.index, rows["RA"], rows["DEC"], tiles, keys, expected)
        start += len(rows)


def image_groups(sdss: pd.DataFrame, des: pd.DataFrame, inputs: SurveyInputs) -> list[ImageGroup]:
    """Return the image groups of the SDSS rows followed by those of the DES rows, from row 0."""
    return [
        *(_sdss_groups(sdss, inputs.sdss_frames) if len(sdss) else ()),
        *(_des_groups(des, inputs.des_tiles, len(sdss)) if len(des) else ()),
    ]


def _group(survey, start, ids, ra, dec, files, keys, expected) -> ImageGroup:  # noqa: ANN001
    """Return an ImageGroup with the files found for each band and the names of the missing ones."""
    return ImageGroup(
        survey=survey,
        start=start,
        names=tuple(f"{survey.upper()} {i}" for i in ids),
        ra=ra.to_numpy(dtype=float),
        dec=dec.to_numpy(dtype=float),
        paths={b: files[key] for b, key in keys.items() if key in files},
        missing={b: expected[b] for b, key in keys.items() if key not in files},
    )


def catalog_sets(
    columns: dict[str, np.ndarray],
    ok: np.ndarray,
    config: CurationConfig,
    *,
    partial: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Return the `sets` code of each row of `columns` (`match_index` among those rows).

    `ok` and `partial` mark the rows with a whole and with a partial cutout.
    """
    confident = (columns["gz_p_cs"] >= SPIRAL_THRESHOLD) | (columns["gz_p_el"] >= EL_THRESHOLD)
    return assign_sets(
        columns["survey"],
        columns["label"],
        confident,
        columns["match_index"],
        ok,
        partial=partial,
        fractions=config.fractions,
        seed=seed,
    )


def provenance(inputs: SurveyInputs, config: CurationConfig) -> dict:
    """Catalog attributes that say how it was made."""
    from galcore import __version__

    settings = asdict(config)
    return {
        "inputs": {name: str(path) for name, path in asdict(inputs).items() if path},
        "curation": settings,
        "thresholds": {"p_cs_debiased": SPIRAL_THRESHOLD, "p_el_debiased": EL_THRESHOLD},
        "surveys": list(SURVEYS),
        "bands": list(BANDS),
        "code_version": __version__,
    }

"""Readers of the survey inputs in their real formats: Galaxy Zoo 1, SDSS DR8 and DR7, DES DR1."""

from __future__ import annotations

from galcore.surveys._des import (
    DES_PIXEL_SCALE_ARCSEC,
    NANOMAGGY_ZEROPOINT,
    find_tiles,
    read_des_catalog,
    read_tile,
)
from galcore.surveys._galaxyzoo import (
    EL_THRESHOLD,
    SPIRAL_THRESHOLD,
    parse_sexagesimal,
    read_galaxy_zoo,
)
from galcore.surveys._images import SurveyImage
from galcore.surveys._sdss import decode_objid, find_frames, read_frame, read_photoobj
from galcore.surveys._sdss_dr7 import find_tsfields, read_fpc, tsfield_calibrations

__all__ = [
    "DES_PIXEL_SCALE_ARCSEC",
    "EL_THRESHOLD",
    "NANOMAGGY_ZEROPOINT",
    "SPIRAL_THRESHOLD",
    "SurveyImage",
    "decode_objid",
    "find_frames",
    "find_tiles",
    "find_tsfields",
    "parse_sexagesimal",
    "read_des_catalog",
    "read_fpc",
    "read_frame",
    "read_galaxy_zoo",
    "read_photoobj",
    "read_tile",
    "tsfield_calibrations",
]

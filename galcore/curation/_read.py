"""The survey tables of a curation: SDSS with its Galaxy Zoo votes, DES, in image order."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from galcore.curation._inputs import SurveyInputs
from galcore.surveys import read_des_catalog, read_galaxy_zoo, read_photoobj

__all__ = ["read_tables"]

logger = logging.getLogger(__name__)

_SDSS_COLUMNS = ("ra", "dec", "g", "r", "i", "petroRad_r", "label", "nvote", "p_el", "p_cs")
_DES_COLUMNS = ("RA", "DEC", "MAG_AUTO_G", "MAG_AUTO_R", "MAG_AUTO_I", "FLUX_RADIUS_R")


def _sdss_table(inputs: SurveyInputs) -> pd.DataFrame:
    """PhotoObj rows joined with their Galaxy Zoo votes, in frame order."""
    photo = read_photoobj(inputs.sdss_photo)
    gz = read_galaxy_zoo(inputs.gz)
    table = photo.join(gz.drop(columns=["ra", "dec"]), how="left")
    logger.info(
        "%d of %d SDSS objects have Galaxy Zoo votes", table["label"].notna().sum(), len(table)
    )
    return table.sort_values(["run", "camcol", "field"], kind="stable")


def _empty(columns: tuple[str, ...], index: str) -> pd.DataFrame:
    """Return the table of a survey not curated: no rows, the columns curation reads."""
    empty = pd.Index(np.array([], dtype=np.int64), name=index)
    return pd.DataFrame({name: np.array([], dtype=np.float64) for name in columns}, index=empty)


def read_tables(inputs: SurveyInputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the SDSS and DES tables of the inputs; a survey without inputs has no rows.

    Parameters
    ----------
    inputs
        The survey files (checked).

    Returns
    -------
    sdss, des : pandas.DataFrame
        PhotoObj rows joined with their Galaxy Zoo votes, indexed by objid, in frame order;
        DES catalog rows indexed by COADD_OBJECT_ID, in tile order.
    """
    sdss = _sdss_table(inputs) if inputs.has_sdss else _empty(_SDSS_COLUMNS, "objid")
    des = (
        read_des_catalog(inputs.des_catalog).sort_values("TILENAME", kind="stable")
        if inputs.has_des
        else _empty(_DES_COLUMNS, "COADD_OBJECT_ID")
    )
    return sdss, des

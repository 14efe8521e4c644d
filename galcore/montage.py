"""A montage of curated galaxies: each class, the same galaxies seen by SDSS and by DES."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from galcore.errors import GalcoreError
from store import Workspace
from store.schema import LABELS, SURVEYS, set_mask

__all__ = ["write_montage"]

_LABEL_WIDTH = 150
_GAP = 4
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)


def write_montage(
    workspace: Path,
    out: Path,
    *,
    per_row: int = 8,
    scale: int = 2,
    seed: int = 0,
    set_name: str = "hp_test",
) -> Path:
    """Write a PNG of random matched galaxies of each class, in SDSS and in DES.

    Parameters
    ----------
    workspace : pathlib.Path
        A workspace with a curated catalog.
    out : pathlib.Path
        The PNG to write.
    per_row : int
        Galaxies per class.
    scale : int
        Each stored pixel becomes ``scale`` x ``scale`` pixels.
    seed : int
        Seed of the random choice.
    set_name : str
        The set to draw from (its SDSS galaxies have a DES counterpart).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    GalcoreError
        If the set holds no matched, labelled galaxy of a class.
    """
    catalog = Workspace(workspace).catalog(mode="r")
    columns = catalog.columns(["label", "sets", "survey", "match_index"])
    sdss = (
        set_mask(columns["sets"], set_name)
        & (columns["survey"] == SURVEYS.index("sdss"))
        & (columns["match_index"] >= 0)
    )
    rng = np.random.default_rng(seed)
    rows = []
    for code, name in enumerate(LABELS):
        candidates = np.flatnonzero(sdss & (columns["label"] == code))
        if len(candidates) == 0:
            msg = f"{catalog.path}: no matched {name} in {set_name}; curate both surveys first"
            raise GalcoreError(msg)
        chosen = np.sort(rng.choice(candidates, min(per_row, len(candidates)), replace=False))
        rows.append((f"SDSS {name}", catalog.read_images(chosen)))
        rows.append((f"DES {name}", catalog.read_images(columns["match_index"][chosen])))
    picture = _compose(rows, scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out, format="PNG", optimize=True)
    return out


def _compose(rows: list[tuple[str, np.ndarray]], scale: int) -> Image.Image:
    """Lay out labelled rows of images on a white canvas."""
    size = rows[0][1].shape[1] * scale
    columns = max(len(images) for _, images in rows)
    width = _LABEL_WIDTH + columns * (size + _GAP)
    height = len(rows) * (size + _GAP) + _GAP
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=16)
    for r, (label, images) in enumerate(rows):
        top = _GAP + r * (size + _GAP)
        draw.text((8, top + size / 2), label, _INK, font, anchor="lm")
        for c, image in enumerate(images):
            tile = Image.fromarray(image, mode="RGB").resize((size, size), Image.Resampling.NEAREST)
            canvas.paste(tile, (_LABEL_WIDTH + c * (size + _GAP), top))
    return canvas

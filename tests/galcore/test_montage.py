"""Tests of `galcore montage`: each class, the same galaxies in SDSS and in DES."""

from __future__ import annotations

import numpy as np
from PIL import Image

from galcore.cli.main import main
from galcore.montage import _GAP, _LABEL_WIDTH
from tests.conftest import TOY_SIZE


def test_montage_shows_matched_pairs_of_each_class(toy_workspace, tmp_path, capsys):
    out = tmp_path / "montage.png"
    code = main(
        ["montage", "--workspace", str(toy_workspace.root), "--out", str(out), "--per-row", "3"]
    )
    assert code == 0
    assert str(out) in capsys.readouterr().out
    picture = np.asarray(Image.open(out).convert("RGB"))
    side = 2 * TOY_SIZE
    assert picture.shape == (4 * (side + _GAP) + _GAP, _LABEL_WIDTH + 3 * (side + _GAP), 3)
    catalog = toy_workspace.catalog(mode="r")
    columns = catalog.columns(["label", "match_index"])
    # Each SDSS tile's DES partner sits right below it, in the next row.
    for row in (0, 2):
        top = _GAP + row * (side + _GAP)
        for column in range(3):
            left = _LABEL_WIDTH + column * (side + _GAP)
            tiles = [
                picture[t : t + side : 2, left : left + side : 2] for t in (top, top + side + _GAP)
            ]
            sdss = [k for k in range(len(catalog)) if np.array_equal(catalog.images[k], tiles[0])]
            assert len(sdss) == 1
            assert columns["label"][sdss[0]] == row // 2
            np.testing.assert_array_equal(catalog.images[columns["match_index"][sdss[0]]], tiles[1])


def test_montage_of_an_empty_set_is_one_line(toy_workspace, tmp_path, capsys):
    out = tmp_path / "montage.png"
    code = main(
        ["montage", "--workspace", str(toy_workspace.root), "--out", str(out), "--set", "fo_test"]
    )
    assert code == 1
    assert "no matched elliptical in fo_test" in capsys.readouterr().err
    assert not out.exists()

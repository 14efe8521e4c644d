"""Thumbnails rendered from the Zarr catalog: real PNGs with the stored pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dashboard.thumbnails import thumbnail_png
from store import StoreNotFoundError, Workspace
from tests.conftest import TOY_SIZE, make_toy_workspace


def _decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    return np.asarray(image)


class TestThumbnailPng:
    def test_pixels_are_the_stored_image(self, toy_workspace):
        pixels = _decode(thumbnail_png(toy_workspace, 7))
        stored = toy_workspace.catalog().images[7]
        assert pixels.shape == (256, 256, 3)
        np.testing.assert_array_equal(pixels[::8, ::8], stored)
        np.testing.assert_array_equal(pixels[7::8, 7::8], stored)

    @pytest.mark.parametrize(
        ("min_size", "side"),
        [
            pytest.param(1, TOY_SIZE, id="stored-size"),
            pytest.param(TOY_SIZE, TOY_SIZE, id="exact"),
            pytest.param(TOY_SIZE + 1, 2 * TOY_SIZE, id="next-whole-factor"),
        ],
    )
    def test_whole_upscaling_factor(self, toy_workspace, min_size, side):
        pixels = _decode(thumbnail_png(toy_workspace, 0, min_size=min_size))
        assert pixels.shape == (side, side, 3)

    def test_rows_differ(self, toy_workspace):
        assert thumbnail_png(toy_workspace, 0) != thumbnail_png(toy_workspace, 1)

    @pytest.mark.parametrize("row", [pytest.param(200, id="past-end"), pytest.param(-1, id="neg")])
    def test_bad_row(self, toy_workspace, row):
        with pytest.raises(IndexError, match=f"no image at row {row} .* rows 0 to 199"):
            thumbnail_png(toy_workspace, row)

    def test_bad_min_size(self, toy_workspace):
        with pytest.raises(ValueError, match="min_size must be a positive number of pixels, got 0"):
            thumbnail_png(toy_workspace, 0, min_size=0)

    def test_no_catalog(self, tmp_path):
        with pytest.raises(StoreNotFoundError, match="no catalog"):
            thumbnail_png(Workspace(tmp_path), 0)

    def test_new_catalog_is_not_served_stale(self, toy_workspace):
        before = thumbnail_png(toy_workspace, 3)
        make_toy_workspace(toy_workspace.root, seed=1)
        after = _decode(thumbnail_png(toy_workspace, 3))
        assert before != thumbnail_png(toy_workspace, 3)
        np.testing.assert_array_equal(after[::8, ::8], toy_workspace.catalog().images[3])

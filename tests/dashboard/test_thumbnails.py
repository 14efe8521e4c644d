"""Thumbnails rendered from the Zarr catalog: real PNGs with the stored pixels."""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dashboard import thumbnails
from dashboard.data import data_version
from dashboard.thumbnails import (
    ImageUnavailableError,
    cached_thumbnail_png,
    encode_png,
    placeholder_png,
    thumbnail_png,
)
from store import StoreNotFoundError, Workspace
from tests.conftest import TOY_SIZE, make_toy_workspace


def chunk_file(workspace: Workspace, index: int) -> Path:
    """The file of one image chunk (64 rows) of a catalog written by `CatalogWriter`."""
    return workspace.catalog_path / "images" / "c" / str(index) / "0" / "0" / "0"


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

    def test_given_version_is_the_current_one(self, toy_workspace):
        version = data_version(toy_workspace)
        assert thumbnail_png(toy_workspace, 5, version=version) == thumbnail_png(toy_workspace, 5)

    def test_neighbouring_rows_decode_their_chunk_once(self, toy_workspace):
        before = thumbnails._read_chunk.cache_info().misses
        for row in range(64, 128):
            thumbnail_png(toy_workspace, row, min_size=1)
        assert thumbnails._read_chunk.cache_info().misses == before + 1


class TestCache:
    def test_cached_answers_only_what_was_rendered(self, toy_workspace):
        version = data_version(toy_workspace)
        assert cached_thumbnail_png(toy_workspace, 11, min_size=64, version=version) is None
        png = thumbnail_png(toy_workspace, 11, min_size=64)
        assert cached_thumbnail_png(toy_workspace, 11, min_size=64, version=version) == png
        assert cached_thumbnail_png(toy_workspace, 11, min_size=128, version=version) is None
        assert cached_thumbnail_png(toy_workspace, 11, min_size=64, version=version + 1) is None

    def test_threads_render_the_same_images(self, toy_workspace):
        rows = [row % 200 for row in range(0, 400, 3)]
        with ThreadPoolExecutor(4) as pool:
            pngs = list(pool.map(lambda row: thumbnail_png(toy_workspace, row, min_size=96), rows))
        images = toy_workspace.catalog().images
        for row, png in zip(rows, pngs, strict=True):
            np.testing.assert_array_equal(_decode(png)[::3, ::3], images[row])


class TestBrokenChunks:
    def test_missing_chunk(self, toy_workspace, caplog):
        chunk_file(toy_workspace, 1).unlink()
        message = r"missing image chunk images/c/1/0/0/0 \(rows 64 to 127\)"
        for _ in range(2):
            with pytest.raises(ImageUnavailableError, match=message):
                thumbnail_png(toy_workspace, 70)
        assert [r.levelno for r in caplog.records if "chunk" in r.getMessage()] == [logging.WARNING]
        _decode(thumbnail_png(toy_workspace, 0))  # the other chunks are fine

    @pytest.mark.parametrize("keep", [pytest.param(0.5, id="half"), pytest.param(0, id="empty")])
    def test_truncated_chunk(self, toy_workspace, keep):
        path = chunk_file(toy_workspace, 3)  # the last chunk: rows 192 to 199
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        with pytest.raises(
            ImageUnavailableError, match=r"corrupt image chunk images/c/3/0/0/0 .*199\): "
        ):
            thumbnail_png(toy_workspace, 199)


class TestEncoding:
    def test_encode_png_enlarges_by_a_whole_factor(self):
        image = np.arange(5 * 5 * 3, dtype=np.uint8).reshape(5, 5, 3)
        pixels = _decode(encode_png(image, 12))
        assert pixels.shape == (15, 15, 3)
        np.testing.assert_array_equal(pixels[2::3, 2::3], image)

    def test_placeholder(self):
        pixels = _decode(placeholder_png(96))
        assert pixels.shape == (96, 96, 3)
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 2  # grey with lettering

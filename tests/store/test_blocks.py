"""`store.RowBlocks`: run arrays written block by block, resumable, put in place whole."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import zarr

from store import RowBlocks, SchemaError
from tests.conftest import make_toy_workspace

WIDTHS = {"probs": 2, "features": 5}


@pytest.fixture
def run(tmp_path):
    catalog = make_toy_workspace(tmp_path / "ws", n=200).catalog()
    return catalog.create_run("r1")


def values_of(start: int, stop: int) -> dict[str, np.ndarray]:
    rows = np.arange(start, stop, dtype=np.float32)[:, None]
    return {
        name: (rows + np.arange(width) / 10).astype(np.float32) for name, width in WIDTHS.items()
    }


def open_blocks(run, *, resume=False, stamp=None, block_rows=64):
    return RowBlocks.open(
        run.path, WIDTHS, 200, block_rows, stamp=stamp or {"model": 1}, resume=resume
    )


def test_blocks_cover_the_rows_and_align_to_chunks(run):
    blocks = open_blocks(run)
    assert blocks.blocks() == [(0, 64), (64, 128), (128, 192), (192, 200)]
    assert blocks.pending() == blocks.blocks()
    assert zarr.open_array(blocks.path_of("features"), mode="r").chunks == (64, 5)


def test_written_blocks_then_finish_replace_the_arrays(run):
    run.write("probs", np.zeros((200, 2), dtype=np.float32))
    blocks = open_blocks(run)
    for start, stop in reversed(blocks.blocks()):  # any order: tasks finish as they finish
        pickle.loads(pickle.dumps(blocks)).write(start, values_of(start, stop))  # noqa: S301
    assert blocks.pending() == []
    np.testing.assert_array_equal(run.read("probs"), 0)  # the old array until finish
    blocks.finish()
    expected = values_of(0, 200)
    for name in WIDTHS:
        np.testing.assert_array_equal(run.read(name), expected[name])
        assert not blocks.path_of(name).exists()


def test_rows_left_out_of_a_block_stay_nan(run):
    blocks = open_blocks(run)
    for start, stop in blocks.blocks():
        values = values_of(start, stop)
        values["probs"][0] = np.nan
        blocks.write(start, values)
    blocks.finish()
    probs = run.read("probs")
    assert np.isnan(probs[[0, 64, 128, 192]]).all()
    assert np.isfinite(np.delete(probs, [0, 64, 128, 192], axis=0)).all()


def test_resume_keeps_the_written_blocks(run):
    blocks = open_blocks(run)
    blocks.write(64, values_of(64, 128))
    again = open_blocks(run, resume=True)
    assert again.pending() == [(0, 64), (128, 192), (192, 200)]
    for start, stop in again.pending():
        again.write(start, values_of(start, stop))
    again.finish()
    np.testing.assert_array_equal(run.read("features"), values_of(0, 200)["features"])


@pytest.mark.parametrize("change", [{"resume": False}, {"stamp": {"model": 2}}, {"block_rows": 32}])
def test_without_resume_or_for_other_work_it_starts_over(run, change):
    open_blocks(run).write(0, values_of(0, 64))
    again = open_blocks(run, **{"resume": True, **change})
    assert again.pending() == again.blocks()
    assert np.isnan(zarr.open_array(again.path_of("probs"), mode="r")[:]).all()


def test_a_block_done_in_one_array_only_is_pending(run):
    blocks = open_blocks(run)
    blocks.write(0, values_of(0, 64))
    (blocks.path_of("features") / "done" / "0-64").unlink()
    assert (0, 64) in open_blocks(run, resume=True).pending()


def test_finish_refuses_pending_blocks(run):
    blocks = open_blocks(run)
    blocks.write(0, values_of(0, 64))
    with pytest.raises(SchemaError, match="3 block"):
        blocks.finish()
    assert not run.has("probs")


def test_finish_refuses_a_catalog_that_grew(tmp_path):
    catalog = make_toy_workspace(tmp_path / "ws", n=200).catalog()
    run = catalog.create_run("r1")
    blocks = RowBlocks.open(run.path, WIDTHS, 150, 64, stamp={})
    for start, stop in blocks.blocks():
        blocks.write(start, values_of(start, stop))
    with pytest.raises(SchemaError, match="has 150 rows but the catalog now has 200"):
        blocks.finish()


@pytest.mark.parametrize(
    ("start", "values", "match"),
    [
        (10, values_of(10, 74), "row 10 does not begin a block of 64 rows"),
        (256, values_of(0, 64), "row 256 does not begin"),
        (0, values_of(0, 63), r"block 0-64 of 'probs' has shape \(63, 2\)"),
    ],
)
def test_bad_writes(run, start, values, match):
    with pytest.raises(SchemaError, match=match):
        open_blocks(run).write(start, values)


@pytest.mark.parametrize(
    ("widths", "block_rows", "match"),
    [
        ({"train_index": 1}, 64, "'train_index' is not a per-object run array"),
        ({"nonsense": 1}, 64, "'nonsense' is not a per-object run array"),
        (WIDTHS, 0, "block_rows=0 must be at least 1"),
    ],
)
def test_bad_arguments(run, widths, block_rows, match):
    with pytest.raises(SchemaError, match=match):
        RowBlocks.open(run.path, widths, 200, block_rows, stamp={})

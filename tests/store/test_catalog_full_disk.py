"""A disk that fills up while a catalog is written: one clear error, the catalog as it was."""

import os

import numpy as np
import pytest

from store import CatalogAppender, CatalogWriter, DiskFullError
from tests.conftest import TOY_SIZE, TOY_STATUS, make_toy_workspace, toy_columns


def snapshot(folder):
    """Every file below `folder`, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def fill(disk, leave=16 * 1024):
    """Fill the disk with one file, leaving about `leave` bytes free."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave))


def noise(n, seed=5):
    """Images that do not compress."""
    return np.random.default_rng(seed).integers(0, 256, (n, TOY_SIZE, TOY_SIZE, 3), np.uint8)


@pytest.fixture
def workspace(small_disk):
    space = make_toy_workspace(small_disk / "ws", n=40)
    fill(small_disk)
    return space


def new_rows(n):
    columns = toy_columns(n, np.random.default_rng(1))
    columns["object_id"] += 10_000
    columns["match_index"][:] = -1
    return columns


def assert_as_it_was(workspace, before, catalog_id):
    assert snapshot(workspace.catalog_path) == before
    catalog = workspace.catalog(mode="r")
    assert catalog.catalog_id == catalog_id
    assert len(catalog) == 40
    assert catalog.images[:].shape == (40, TOY_SIZE, TOY_SIZE, 3)
    assert sorted(p.name for p in workspace.root.iterdir()) == ["catalog.zarr"]


def test_an_addition_that_fills_the_disk_leaves_the_catalog_as_it_was(workspace):
    before, catalog_id = snapshot(workspace.catalog_path), workspace.catalog().catalog_id
    appender = CatalogAppender(workspace.catalog_path, new_rows(200))
    with pytest.raises(DiskFullError, match="no space left on the disk of .*catalog.zarr") as error:
        appender.write_images(40, noise(200))
    assert "free some space there" in str(error.value)
    appender.abort()
    assert_as_it_was(workspace, before, catalog_id)


def write_new_catalog(path):
    """Write a catalog of 200 rows as a curation does: aborted on any error."""
    columns = toy_columns(200, np.random.default_rng(0))
    writer = CatalogWriter(path, columns, image_size=TOY_SIZE, status_codes=TOY_STATUS)
    try:
        writer.write_images(0, noise(200))
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def test_a_new_catalog_that_fills_the_disk_leaves_the_old_one_as_it_was(workspace):
    before, catalog_id = snapshot(workspace.catalog_path), workspace.catalog().catalog_id
    with pytest.raises(DiskFullError, match="no space left"):
        write_new_catalog(workspace.catalog_path)
    assert_as_it_was(workspace, before, catalog_id)

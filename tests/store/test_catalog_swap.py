"""Replacing a catalog in one atomic step, and opening one after a writer crashed."""

import ctypes
import errno
import re
import shutil

import numpy as np
import pytest

import store._swap as swap_module
from store import Catalog, CatalogAppender, CatalogSink, CatalogWriter, StoreError
from tests.conftest import TOY_SIZE, TOY_STATUS, make_toy_workspace, toy_columns

UUID_PARTIAL = re.compile(r"\.catalog\.zarr\.partial-[0-9a-f]{32}")


def names(folder):
    return sorted(path.name for path in folder.iterdir())


def writer(path, n=10, seed=1):
    return CatalogWriter(
        path,
        toy_columns(n, np.random.default_rng(seed)),
        image_size=TOY_SIZE,
        status_codes=TOY_STATUS,
    )


@pytest.fixture
def workspace(tmp_path):
    return make_toy_workspace(tmp_path / "ws", n=20)


def test_both_writers_are_catalog_sinks(workspace):
    new, added = (
        writer(workspace.catalog_path),
        CatalogAppender(
            workspace.catalog_path,
            {**toy_columns(2, np.random.default_rng(3)), "match_index": np.array([-1, -1])},
        ),
    )
    assert isinstance(new, CatalogSink)
    assert isinstance(added, CatalogSink)
    assert (new.rows, added.rows) == (range(10), range(20, 22))
    new.abort()
    added.abort()
    assert names(workspace.root) == ["catalog.zarr"]


def test_a_new_catalog_gets_a_new_identity_and_replaces_the_old_whole(workspace):
    old_id = workspace.catalog().catalog_id
    new = writer(workspace.catalog_path)
    assert UUID_PARTIAL.fullmatch(new._tmp.path.name)  # unique, not the process id
    new.commit()
    catalog = workspace.catalog()
    assert len(catalog) == 10
    assert catalog.catalog_id not in ("", old_id)
    assert names(workspace.root) == ["catalog.zarr"]


def test_two_writers_at_once_do_not_share_a_temporary_folder(workspace):
    first, second = writer(workspace.catalog_path, n=10), writer(workspace.catalog_path, n=12)
    first.write_images(0, np.full((10, TOY_SIZE, TOY_SIZE, 3), 1, dtype=np.uint8))
    second.write_images(0, np.full((12, TOY_SIZE, TOY_SIZE, 3), 2, dtype=np.uint8))
    first.commit()
    assert len(workspace.catalog()) == 10
    assert (workspace.catalog().images[:] == 1).all()
    second.commit()
    assert len(workspace.catalog()) == 12
    assert (workspace.catalog().images[:] == 2).all()
    assert names(workspace.root) == ["catalog.zarr"]


def test_the_swap_is_one_exchange_the_catalog_never_missing(workspace, monkeypatch):
    """A crash after the exchange leaves the new catalog in place and the old one aside."""
    seen = []

    def crash(path, **_):
        seen.append(workspace.catalog_path.exists())
        raise SystemExit  # the process is killed before it deletes the old catalog

    new = writer(workspace.catalog_path)
    new_id = new._root.attrs["catalog_id"]
    monkeypatch.setattr(swap_module.shutil, "rmtree", crash)
    with pytest.raises(SystemExit):
        new.commit()
    monkeypatch.undo()
    assert seen
    assert all(seen)  # the catalog was there whenever the old one could go
    (leftover,) = (p for p in workspace.root.iterdir() if p.name != "catalog.zarr")
    assert UUID_PARTIAL.fullmatch(leftover.name)
    catalog = workspace.catalog()  # opening removes the dead writer's leftover
    assert (len(catalog), catalog.catalog_id) == (10, new_id)
    assert names(workspace.root) == ["catalog.zarr"]


def test_a_crash_between_two_renames_of_an_older_version_is_recovered(workspace):
    """Versions before the exchange left only `.catalog.zarr.old-PID` behind."""
    before = workspace.catalog().catalog_id
    workspace.catalog_path.rename(workspace.root / ".catalog.zarr.old-4242")
    catalog = workspace.catalog()
    assert (len(catalog), catalog.catalog_id) == (20, before)
    assert names(workspace.root) == ["catalog.zarr"]


def test_a_whole_new_catalog_of_an_interrupted_swap_is_put_in_place(workspace, tmp_path):
    newer = make_toy_workspace(tmp_path / "newer", n=6)
    newer_id = newer.catalog().catalog_id
    workspace.catalog_path.rename(workspace.root / ".catalog.zarr.old-77")
    shutil.move(newer.catalog_path, workspace.root / ".catalog.zarr.partial-77")
    catalog = workspace.catalog(mode="r")
    assert (len(catalog), catalog.catalog_id) == (6, newer_id)
    assert names(workspace.root) == ["catalog.zarr"]


def test_dead_writers_leftovers_go_a_live_writers_stay(workspace):
    dead = workspace.root / ".catalog.zarr.partial-0123456789abcdef0123456789abcdef"
    shutil.copytree(workspace.catalog_path, dead)
    (workspace.root / ".catalog.zarr.partial-99").mkdir()  # an older version's, PID-named
    live = writer(workspace.catalog_path)
    assert len(workspace.catalog()) == 20
    assert names(workspace.root) == sorted(["catalog.zarr", live._tmp.path.name])
    live.commit()
    assert len(workspace.catalog()) == 10
    assert names(workspace.root) == ["catalog.zarr"]


def test_a_file_system_without_exchange_gives_one_clear_error(workspace, monkeypatch):
    def unsupported(*args):
        ctypes.set_errno(errno.EINVAL)
        return -1

    before = workspace.catalog().catalog_id
    monkeypatch.setattr(swap_module, "_renameat2", unsupported)
    with pytest.raises(StoreError, match=r"does not support renameat2\(RENAME_EXCHANGE\)"):
        writer(workspace.catalog_path).commit()
    monkeypatch.setattr(swap_module, "_renameat2", None)
    with pytest.raises(StoreError, match="this system has no renameat2"):
        writer(workspace.catalog_path).commit()
    assert workspace.catalog().catalog_id == before


def test_a_catalog_opens_where_its_folder_cannot_be_cleaned(workspace, monkeypatch):
    (workspace.root / ".catalog.zarr.partial-5").mkdir()

    def refuse(path):
        raise PermissionError(errno.EACCES, "read-only", str(path))

    monkeypatch.setattr("store.catalog.recover", refuse)
    assert len(Catalog(workspace.catalog_path, mode="r")) == 20

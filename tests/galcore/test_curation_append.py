"""Incremental curation: `add_to_catalog` and `galcore curate --add` on a synthetic sky."""

import os
import re
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import galcore.curation._pipeline as pipeline_module
import store._swap as swap_module
from galcore.cli.main import main
from galcore.curation import (
    CurationConfig,
    CurationSummary,
    SurveyInputs,
    add_to_catalog,
    curate_catalog,
)
from galcore.errors import CurationError, CurationWarning
from galcore.sky import make_sky
from store import SURVEYS, Workspace, set_mask, sets_code

pytestmark = pytest.mark.slow

CONFIG = CurationConfig(size=32)
DISK_FULL = "disk full"
_SDSS = ("gz", "sdss_photo", "sdss_frames")
_DES = ("des_catalog", "des_tiles")


def snapshot(folder):
    """Every file below `folder`, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def only(inputs, names, **changes):
    """The inputs of one survey (or of both, with some files swapped)."""
    return SurveyInputs(**{name: getattr(inputs, name) for name in names}, **changes)


def curate_quietly(inputs, root, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurationWarning)  # the sky's planted defects
        return curate_catalog(inputs, root, **options)


def add_quietly(inputs, root, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurationWarning)
        return add_to_catalog(inputs, root, **options)


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    out = tmp_path_factory.mktemp("sky")
    make_sky(out, seed=3, n_sdss=80, n_des=90, tile_size=1024)
    return SurveyInputs.from_sky(out)


@pytest.fixture(scope="module")
def full(sky, tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    curate_quietly(sky, root, config=CONFIG)
    return Workspace(root).catalog(mode="r")


@pytest.fixture(scope="module")
def sdss_only(sky, tmp_path_factory):
    """A workspace whose catalog holds the SDSS galaxies only; copy it before changing it."""
    root = tmp_path_factory.mktemp("sdss")
    curate_quietly(only(sky, _SDSS), root, config=CONFIG)
    return Workspace(root)


@pytest.fixture
def workspace(sdss_only, tmp_path):
    """A fresh copy of the SDSS-only workspace."""
    shutil.copytree(sdss_only.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="module")
def des_added(sky, sdss_only, tmp_path_factory):
    """The SDSS-only catalog with DES added, what it held before, and the summary."""
    root = tmp_path_factory.mktemp("added")
    shutil.copytree(sdss_only.root, root, dirs_exist_ok=True)
    space = Workspace(root)
    before = space.catalog(mode="r")
    held = {"images": before.images[:], "columns": before.columns()}
    return space, held, add_quietly(only(sky, _DES), root)


def by_object(catalog):
    """Catalog row of every (survey, object id)."""
    keys = zip(catalog.column("survey").tolist(), catalog.column("object_id").tolist(), strict=True)
    return {key: row for row, key in enumerate(keys)}


def assert_same_objects(catalog, expected):
    """Same objects with the same statuses, matches, Galaxy Zoo columns and images, any order."""
    rows, expected_rows = by_object(catalog), by_object(expected)
    assert rows.keys() == expected_rows.keys()
    order = np.array([rows[key] for key in expected_rows])  # catalog row of each expected row
    codes, expected_codes = np.asarray(catalog.status_codes), np.asarray(expected.status_codes)
    assert (
        codes[catalog.column("status")[order]] == expected_codes[expected.column("status")]
    ).all()
    match = catalog.column("match_index")[order]
    at = np.argsort(order)  # expected row of each catalog row
    np.testing.assert_array_equal(
        np.where(match >= 0, at[match], -1), expected.column("match_index")
    )
    for name in ("label", "gz_nvote", "gz_p_el", "gz_p_cs", "missing_fraction", "radius"):
        np.testing.assert_array_equal(catalog.column(name)[order], expected.column(name))
    np.testing.assert_array_equal(catalog.read_images(order), expected.images[:])


class TestAddingDesToAnSdssCatalog:
    def test_it_holds_what_a_full_curation_holds(self, des_added, full):
        assert_same_objects(des_added[0].catalog(mode="r"), full)

    def test_the_rows_it_held_keep_their_images_values_and_sets(self, des_added):
        space, held, summary = des_added
        catalog = space.catalog(mode="r")
        n = len(held["images"])
        assert summary.rows == range(n, len(catalog))
        assert catalog.images[:n].tobytes() == held["images"].tobytes()
        for name, values in held["columns"].items():
            if name != "match_index":
                np.testing.assert_array_equal(catalog.column(name)[:n], values, err_msg=name)
        match = catalog.column("match_index")
        assert (held["columns"]["match_index"] == -1).all()
        assert (match[:n][match[:n] >= 0] >= n).all()
        assert summary.n_joined == summary.n_matched == (match[:n] >= 0).sum() > 0

    def test_new_des_objects_join_their_counterparts_training_set_or_are_unlabelled(
        self, des_added
    ):
        space, held, summary = des_added
        catalog = space.catalog(mode="r")
        n = len(held["images"])
        sets, match, ok = (
            catalog.column("sets")[n:],
            catalog.column("match_index")[n:],
            catalog.usable()[n:],
        )
        # their SDSS counterparts are in train, val or no set: no test pair can form
        joined = match >= 0
        partner = catalog.column("sets")[match[joined]] & sets_code(["train", "val"])
        usable = catalog.usable()[n:][joined]
        np.testing.assert_array_equal(sets[joined], np.where(usable, partner, 0))
        assert set_mask(sets[joined], "train").any()
        assert (set_mask(sets, "unlabelled") == (ok & (match < 0))).all()
        assert summary.sets["unlabelled"] == (ok & (match < 0)).sum() > 0

    def test_it_is_recorded_in_the_catalog(self, des_added, sky):
        space, held, summary = des_added
        (entry,) = space.catalog(mode="r").attrs["additions"]
        assert entry["rows"] == [summary.rows.start, summary.rows.stop]
        assert entry["inputs"] == {name: str(getattr(sky, name)) for name in _DES}
        assert (entry["n_sdss"], entry["n_des"]) == (0, summary.n_des)

    def test_adding_the_same_again_adds_nothing(self, des_added, sky):
        space = des_added[0]
        before = snapshot(space.catalog_path)
        summary = add_to_catalog(sky, space.root)
        assert not summary.rows
        assert summary.n_known == len(space.catalog(mode="r"))
        assert snapshot(space.catalog_path) == before


def _write_subset(table_path, out, column, keep):
    table = pd.read_csv(table_path)
    table[table[column].isin(keep)].to_csv(out, index=False)
    return out


def test_new_fields_and_tiles_join_as_in_a_full_curation(sky, full, tmp_path):
    photo, des = pd.read_csv(sky.sdss_photo), pd.read_csv(sky.des_catalog)
    fields = sorted(photo["field"].unique())
    tiles = sorted(des["TILENAME"].unique())
    # First the SDSS-only fields and half the tiles: the fields over the tiles are new, and
    # their galaxies pair with new tiles' galaxies or join those of the tiles held.
    first = only(
        sky,
        ("gz", "sdss_frames", "des_tiles"),
        sdss_photo=_write_subset(sky.sdss_photo, tmp_path / "p.csv", "field", fields[1::2]),
        des_catalog=_write_subset(sky.des_catalog, tmp_path / "d.csv", "TILENAME", tiles[::2]),
    )
    curate_quietly(first, tmp_path, config=CONFIG)
    before = Workspace(tmp_path).catalog(mode="r")
    n, old_sets = len(before), before.column("sets")
    summary = add_quietly(sky, tmp_path)
    catalog = Workspace(tmp_path).catalog(mode="r")
    assert_same_objects(catalog, full)
    assert summary.n_known == n
    assert summary.n_joined > 0
    assert summary.n_matched > summary.n_joined  # new pairs of new objects too
    sets, match = catalog.column("sets"), catalog.column("match_index")
    np.testing.assert_array_equal(sets[:n], old_sets)
    for name in ("hp_test", "fo_test"):  # test pairs stay whole
        members = np.flatnonzero(set_mask(sets, name))
        assert set_mask(sets[match[members]], name).all()
    assert set_mask(sets[n:], "hp_test").any()


class TestAtomicity:
    def test_a_failure_while_cutting_leaves_the_catalog_as_it_was(
        self, workspace, sky, monkeypatch
    ):
        before = snapshot(workspace.catalog_path)
        cut_group, calls = pipeline_module.cut_group, []

        def failing(group, **options):
            calls.append(group)
            if len(calls) == 3:
                raise OSError(DISK_FULL)
            return cut_group(group, **options)

        monkeypatch.setattr(pipeline_module, "cut_group", failing)
        with pytest.raises(OSError, match="disk full"):
            add_quietly(only(sky, _DES), workspace.root)
        assert snapshot(workspace.catalog_path) == before
        assert sorted(p.name for p in workspace.root.iterdir()) == ["catalog.zarr"]

    def test_a_failure_while_committing_leaves_the_catalog_as_it_was(
        self, workspace, sky, monkeypatch
    ):
        before = snapshot(workspace.catalog_path)

        def failing(*args):
            raise OSError(DISK_FULL)

        monkeypatch.setattr(swap_module, "swap_in", failing)
        with pytest.raises(OSError, match="disk full"):
            add_quietly(only(sky, _DES), workspace.root)
        assert snapshot(workspace.catalog_path) == before
        assert sorted(p.name for p in workspace.root.iterdir()) == ["catalog.zarr"]

    def test_other_image_settings_are_refused_naming_both(self, workspace, sky):
        before = snapshot(workspace.catalog_path)
        config = CurationConfig(size=64)
        with pytest.raises(CurationError, match=r"curated with image size 32, not 64: add with"):
            add_to_catalog(only(sky, _DES), workspace.root, config=config)
        config = CurationConfig(size=32, field_arcsec=30)
        with pytest.raises(CurationError, match=r"cutout field \(arcsec\) 40.0, not 30"):
            add_to_catalog(only(sky, _DES), workspace.root, config=config)
        assert snapshot(workspace.catalog_path) == before


def test_runs_have_no_predictions_for_new_rows_and_every_reader_copes(workspace, sky):
    from dashboard.data import data_version, load_objects, load_points, load_predictions
    from galcore.export import catalog_table
    from galcore.recursion import next_training_set

    catalog = workspace.catalog()
    n = len(catalog)
    run = catalog.create_run("r1")
    rng = np.random.default_rng(0)
    run.write("probs", rng.dirichlet([1, 1], n))
    run.write("features", rng.normal(size=(n, 8)))
    run.write("embedding", rng.normal(size=(n, 3)))
    train = np.flatnonzero(set_mask(catalog.column("sets"), "train"))
    run.write("train_index", train)
    run.write("train_label", catalog.column("label")[train])
    old_version = data_version(workspace, "r1")
    summary = add_quietly(only(sky, _DES), workspace.root)
    catalog = workspace.catalog()
    run = catalog.run("r1")
    for name in ("probs", "features", "embedding"):
        values = run.read(name)
        assert len(values) == len(catalog) == summary.rows.stop
        assert np.isfinite(values[:n]).all()
        assert np.isnan(values[n:]).all()
    np.testing.assert_array_equal(run.read("train_index"), train)
    root, version = str(workspace.root), data_version(workspace, "r1")
    assert version != old_version
    points = load_points(root, "r1", data_version(workspace), version)
    assert len(points) == len(catalog)
    assert points["x"][n:].isna().all()
    assert len(load_objects(root, data_version(workspace))["object_id"]) == len(catalog)
    assert not load_predictions(root, "r1", version)["valid"][n:].any()
    table = catalog_table(workspace.root, run="r1")
    assert (table["predicted"][n:] == "").all()
    unlabelled = set_mask(catalog.column("sets"), "unlabelled")
    assert unlabelled[n:].any()
    nxt = next_training_set(catalog, "r1", {}, top=5)
    assert nxt.n_pseudo == 0  # the new unlabelled rows have no predictions yet
    np.testing.assert_array_equal(nxt.rows, train)


def test_cli_adds_reports_and_refuses(workspace, sky, capsys):
    ws = str(workspace.root)
    des = ["--des-catalog", str(sky.des_catalog), "--des-tiles", str(sky.des_tiles)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurationWarning)
        assert main(["curate", "--workspace", ws, "--add", *des]) == 0
    out = capsys.readouterr()
    n = len(pd.read_csv(sky.sdss_photo))
    assert out.out.startswith(f"added rows {n}-")
    assert "SDSS + 90 DES objects" in out.out
    # DES objects join their SDSS counterparts' train or val sets; no test pair can form
    assert re.search(
        r"new in sets: train [1-9]\d*, val \d+, hp_test 0, fo_test 0, unlabelled", out.out
    )
    assert "WARNING: " in out.err  # the sky's defective DES objects
    assert main(["curate", "--workspace", ws, "--add", "--sky", str(sky.gz.parent)]) == 0
    assert capsys.readouterr().out == (
        f"nothing to add: {workspace.catalog_path} holds all {n + 90} objects of the inputs"
        " already\n"
    )
    assert main(["curate", "--workspace", ws, "--add", "--size", "64", *des]) == 1
    assert capsys.readouterr().err == (
        f"ERROR: {workspace.catalog_path} was curated with image size 32, not 64: add with the"
        " catalog's (--size 32), or curate into another --workspace\n"
    )
    assert main(["curate", "--workspace", ws, "--add", "--replace", *des]) == 1
    assert "--replace would drop them" in capsys.readouterr().err
    assert {SURVEYS[s] for s in workspace.catalog().column("survey")} == {"sdss", "des"}
    assert sets_code(["unlabelled"]) in workspace.catalog().column("sets")


def test_an_addition_keeps_the_catalog_identity_a_curation_makes_a_new_one(workspace, sky):
    first = workspace.catalog(mode="r").catalog_id
    added = add_quietly(only(sky, _DES), workspace.root)
    assert workspace.catalog(mode="r").catalog_id == first
    curated = curate_quietly(sky, workspace.root, config=CONFIG)
    assert workspace.catalog(mode="r").catalog_id not in ("", first)
    assert type(added) is type(curated) is CurationSummary  # one summary for both
    assert curated.rows == range(len(workspace.catalog(mode="r")))


class TestFullDisk:
    """`galcore curate` on a real disk that fills up: exit 1, one message, the catalog kept."""

    @pytest.fixture
    def on_small_disk(self, sdss_only, small_disk):
        shutil.copytree(sdss_only.root, small_disk / "ws")
        stat = os.statvfs(small_disk)
        (small_disk / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 48 * 1024))
        return Workspace(small_disk / "ws")

    @pytest.mark.parametrize(
        "how", [pytest.param(["--add"], id="addition"), pytest.param([], id="curation")]
    )
    def test_a_full_disk_stops_with_one_error(self, on_small_disk, sky, capsys, how):
        space = on_small_disk
        before, catalog_id = snapshot(space.catalog_path), space.catalog().catalog_id
        args = ["curate", "--workspace", str(space.root), "--sky", str(sky.gz.parent), *how]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CurationWarning)
            assert main([*args, "--size", "32"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"ERROR: no space left on the disk of {space.catalog_path}")
        assert "free some space there" in err
        assert snapshot(space.catalog_path) == before
        assert space.catalog(mode="r").catalog_id == catalog_id
        assert sorted(p.name for p in space.root.iterdir()) == ["catalog.zarr"]

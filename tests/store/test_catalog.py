import json

import numpy as np
import pytest

from store import Catalog, CatalogWriter, RunExistsError, SchemaError, StoreNotFoundError
from store.schema import OBJECT_COLUMNS
from tests.conftest import TOY_SIZE, make_toy_workspace, toy_columns


class TestCatalog:
    def test_reads_back_columns_images_and_failures(self, toy_workspace):
        catalog = toy_workspace.catalog()
        assert len(catalog) == 200
        assert catalog.image_size == TOY_SIZE
        assert catalog.column("survey").tolist().count(1) == 100
        assert catalog.failures == {199: "galaxy 500000099: off the frame"}
        assert catalog.status_codes == ("ok", "off_frame")
        assert catalog.ok().sum() == 199

    def test_read_images_keeps_the_requested_order(self, toy_workspace):
        catalog = toy_workspace.catalog()
        images = catalog.read_images([70, 3, 65])
        assert images.shape == (3, TOY_SIZE, TOY_SIZE, 3)
        np.testing.assert_array_equal(images[1], catalog.images[3])
        np.testing.assert_array_equal(images[0], catalog.images[70])
        assert catalog.read_images([]).shape == (0, TOY_SIZE, TOY_SIZE, 3)

    def test_missing_catalog_says_how_to_make_one(self, tmp_path):
        with pytest.raises(StoreNotFoundError, match="run 'galcore curate'"):
            Catalog(tmp_path / "catalog.zarr")

    def test_other_schema_version_is_refused(self, toy_workspace):
        meta = toy_workspace.catalog_path / "zarr.json"
        document = json.loads(meta.read_text())
        document["attributes"]["schema_version"] = 99
        meta.write_text(json.dumps(document))
        with pytest.raises(SchemaError, match="schema version 99; this code reads 1"):
            toy_workspace.catalog()

    def test_unknown_column_is_refused(self, toy_workspace):
        with pytest.raises(SchemaError, match="unknown column 'colour'"):
            toy_workspace.catalog().column("colour")


class TestRuns:
    def test_runs_keep_attrs_and_arrays(self, toy_workspace):
        catalog = toy_workspace.catalog()
        run = catalog.create_run("first", parent=None, config={"epochs": [1, 1, 1]})
        run.write("probs", np.full((len(catalog), 2), 0.5))
        run.update_attrs(metrics={"accuracy": 0.9})
        again = toy_workspace.catalog().run("first")
        assert again.attrs["config"] == {"epochs": [1, 1, 1]}
        assert again.attrs["metrics"] == {"accuracy": 0.9}
        assert again.read("probs").dtype == np.float32
        assert again.has("probs")
        assert not again.has("embedding")

    def test_runs_are_listed_oldest_first(self, toy_workspace):
        catalog = toy_workspace.catalog()
        catalog.create_run("b")
        catalog.create_run("a").update_attrs(created="9999")
        assert catalog.runs() == ["b", "a"]

    def test_runs_are_never_overwritten(self, toy_workspace):
        catalog = toy_workspace.catalog()
        catalog.create_run("first")
        with pytest.raises(RunExistsError, match="run 'first' exists"):
            catalog.create_run("first")

    def test_rewriting_an_array_swaps_it_whole(self, toy_workspace):
        run = toy_workspace.catalog().create_run("first")
        run.write("probs", np.zeros((200, 2)))
        run.write("probs", np.ones((200, 2)))
        assert sorted(p.name for p in run.path.iterdir()) == ["probs", "zarr.json"]
        assert (toy_workspace.catalog().run("first").read("probs") == 1).all()

    @pytest.mark.parametrize("name", ["", "a/b", ".hidden", "two words", "r1.partial"])
    def test_bad_run_names_are_refused(self, toy_workspace, name):
        with pytest.raises(SchemaError, match="is not allowed"):
            toy_workspace.catalog().create_run(name)

    def test_unknown_run_lists_the_runs(self, toy_workspace):
        catalog = toy_workspace.catalog()
        catalog.create_run("first")
        with pytest.raises(StoreNotFoundError, match=r"no run 'second' .* \(runs: first\)"):
            catalog.run("second")

    def test_missing_array_names_the_step(self, toy_workspace):
        run = toy_workspace.catalog().create_run("first")
        with pytest.raises(StoreNotFoundError, match="run 'first' has no 'embedding' array yet"):
            run.read("embedding")

    @pytest.mark.parametrize(
        ("name", "shape", "match"),
        [
            pytest.param("colour", (200, 2), "unknown run array", id="unknown"),
            pytest.param("probs", (200, 3), "expected 2-D with 2 columns", id="width"),
            pytest.param("train_index", (200, 2), "expected 1-D", id="ndim"),
        ],
    )
    def test_run_arrays_are_checked(self, toy_workspace, name, shape, match):
        run = toy_workspace.catalog().create_run("first")
        with pytest.raises(SchemaError, match=match):
            run.write(name, np.zeros(shape))


class TestCatalogWriter:
    def test_nothing_appears_until_commit(self, tmp_path):
        columns = toy_columns(10, np.random.default_rng(0))
        writer = CatalogWriter(
            tmp_path / "catalog.zarr", columns, image_size=8, status_codes=["ok"]
        )
        assert not (tmp_path / "catalog.zarr").exists()
        writer.abort()
        assert list(tmp_path.iterdir()) == []

    def test_commit_replaces_an_older_catalog_whole(self, tmp_path):
        old = make_toy_workspace(tmp_path / "ws", n=20)
        columns = toy_columns(10, np.random.default_rng(1))
        writer = CatalogWriter(old.catalog_path, columns, image_size=8, status_codes=["ok"])
        assert len(old.catalog()) == 20
        writer.commit()
        assert len(old.catalog()) == 10
        assert sorted(p.name for p in old.root.iterdir()) == ["catalog.zarr"]

    def test_status_codes_start_with_ok(self, tmp_path):
        columns = toy_columns(4, np.random.default_rng(0))
        with pytest.raises(SchemaError, match="status_codes must start with 'ok'"):
            CatalogWriter(tmp_path / "c.zarr", columns, image_size=8, status_codes=["bad", "ok"])

    def test_set_column_checks_the_name(self, tmp_path):
        columns = toy_columns(4, np.random.default_rng(0))
        writer = CatalogWriter(tmp_path / "c.zarr", columns, image_size=8, status_codes=["ok"])
        writer.set_column("sets", np.ones(4))
        with pytest.raises(SchemaError, match="unknown column 'colour'"):
            writer.set_column("colour", np.ones(4))
        writer.commit()
        assert Catalog(tmp_path / "c.zarr").column("sets").tolist() == [1, 1, 1, 1]
        assert set(OBJECT_COLUMNS) == set(Catalog(tmp_path / "c.zarr").columns())


def test_read_only_catalog_without_runs_has_no_run(toy_workspace):
    with pytest.raises(StoreNotFoundError, match=r"no run 'r1' .* \(runs: none yet\)"):
        toy_workspace.catalog(mode="r").run("r1")

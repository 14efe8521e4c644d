import numpy as np
import pytest

from store import Catalog, CatalogAppender, CatalogWriter, SchemaError, StoreError
from tests.conftest import TOY_SIZE, TOY_STATUS, toy_columns, toy_images


def snapshot(folder):
    """Every file below `folder`, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def new_rows(n, seed=1):
    columns = toy_columns(n, np.random.default_rng(seed))
    columns["object_id"] += 10_000
    columns["match_index"][:] = -1
    return columns


@pytest.fixture
def predicted(toy_workspace):
    """The toy workspace with a run that has probabilities and a training set."""
    run = toy_workspace.catalog().create_run("r1")
    run.write("probs", np.full((200, 2), 0.5))
    run.write("train_index", np.arange(10))
    return toy_workspace


def test_rows_are_added_at_the_end_and_runs_grow_with_nan(predicted):
    before = predicted.catalog()
    old_images, old_columns = before.images[:], before.columns()
    appender = CatalogAppender(predicted.catalog_path, new_rows(10))
    assert appender.rows == range(200, 210)
    images = toy_images(np.ones(10, dtype=int), np.random.default_rng(2))
    appender.write_images(200, images)
    appender.set_column("sets", np.full(10, 4))
    appender.set_status(np.r_[np.zeros(9), 2], {209: "galaxy 9: no i band"}, [*TOY_STATUS, "new"])
    appender.update_attrs(additions=[{"rows": [200, 210]}])
    appender.commit()
    after = predicted.catalog()
    assert len(after) == 210
    np.testing.assert_array_equal(after.images[:200], old_images)
    np.testing.assert_array_equal(after.images[200:], images)
    for name, values in old_columns.items():
        np.testing.assert_array_equal(after.column(name)[:200], values)
    assert after.column("sets")[200:].tolist() == [4] * 10
    assert after.status_codes == (*TOY_STATUS, "new")
    assert after.failures == {199: "galaxy 500000099: off the frame", 209: "galaxy 9: no i band"}
    assert after.attrs["additions"] == [{"rows": [200, 210]}]
    run = after.run("r1")
    assert run.read("probs").shape == (210, 2)
    assert (run.read("probs")[:200] == 0.5).all()
    assert np.isnan(run.read("probs")[200:]).all()
    assert run.read("train_index").tolist() == list(range(10))
    assert sorted(p.name for p in predicted.root.iterdir()) == ["catalog.zarr"]


def test_the_catalog_is_untouched_until_commit(predicted):
    before = snapshot(predicted.catalog_path)
    appender = CatalogAppender(predicted.catalog_path, new_rows(10))
    appender.write_images(200, np.full((10, TOY_SIZE, TOY_SIZE, 3), 7, dtype=np.uint8))
    appender.set_column("sets", np.ones(10))
    appender.update_attrs(note="x")
    assert snapshot(predicted.catalog_path) == before  # the linked copy shares no written file
    appender.abort()
    assert snapshot(predicted.catalog_path) == before
    assert sorted(p.name for p in predicted.root.iterdir()) == ["catalog.zarr"]


def test_existing_rows_are_linked_only_when_unmatched(tmp_path):
    columns = toy_columns(20, np.random.default_rng(0))
    columns["match_index"][[5, 15]] = -1  # an SDSS and a DES object without counterparts
    columns["label"][15] = -1
    path = tmp_path / "catalog.zarr"
    CatalogWriter(path, columns, image_size=TOY_SIZE, status_codes=TOY_STATUS).commit()
    appender = CatalogAppender(path, new_rows(4))
    with pytest.raises(SchemaError, match="only existing rows without a counterpart"):
        appender.link([10], [21])  # row 10 has a counterpart
    with pytest.raises(SchemaError, match="only existing rows without a counterpart"):
        appender.link([15], [5])  # row 5 is not new
    with pytest.raises(SchemaError, match="are not new rows"):
        appender.write_images(19, np.zeros((2, TOY_SIZE, TOY_SIZE, 3), dtype=np.uint8))
    appender.set_column("label", np.array([1, 0, 1, 1]))
    appender.link([15], [22], carried=["label"])
    appender.commit()
    after = Catalog(path)
    assert after.column("match_index")[[15, 22]].tolist() == [22, 15]
    assert after.column("label")[15] == 1
    assert after.column("match_index")[5] == -1


def test_status_codes_may_only_grow(toy_workspace):
    appender = CatalogAppender(toy_workspace.catalog_path, new_rows(2))
    with pytest.raises(SchemaError, match="must extend"):
        appender.set_status(np.zeros(2), {}, ["ok", "other"])
    with pytest.raises(SchemaError, match="other than the new rows"):
        appender.set_status(np.zeros(2), {3: "x"}, TOY_STATUS)
    appender.abort()


def test_a_write_to_the_catalog_meanwhile_stops_the_commit(predicted):
    appender = CatalogAppender(predicted.catalog_path, new_rows(10))
    predicted.catalog().create_run("r2")
    before = snapshot(predicted.catalog_path)
    with pytest.raises(StoreError, match="was written to .* nothing was added: add them again"):
        appender.commit()
    assert snapshot(predicted.catalog_path) == before
    assert sorted(p.name for p in predicted.root.iterdir()) == ["catalog.zarr"]


def test_a_run_array_of_the_old_length_is_refused_after_an_addition(predicted):
    run = predicted.catalog().run("r1")  # opened before the addition, as a long step would
    CatalogAppender(predicted.catalog_path, new_rows(10)).commit()
    with pytest.raises(SchemaError, match=r"'probs' has 200 rows but .* has 210: objects were"):
        run.write("probs", np.zeros((200, 2)))
    run.write("probs", np.zeros((210, 2)))
    run.write("train_index", np.arange(3))  # a list of rows, of any length


def test_an_addition_keeps_the_catalog_identity(predicted):
    before = predicted.catalog().catalog_id
    assert before
    CatalogAppender(predicted.catalog_path, new_rows(10)).commit()
    assert predicted.catalog().catalog_id == before

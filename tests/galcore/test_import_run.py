"""A run trained in one workspace, imported into another to label and test its catalog."""

from __future__ import annotations

import filecmp

import numpy as np
import pytest
import zarr

from galcore.cli.main import main as galcore_main
from galcore.errors import TrainingError
from galcore.evaluation import evaluate_run
from galcore.import_run import import_run
from galcore.inference import predict
from galcore.training import MODEL_FILE, TrainConfig, train
from store import RunExistsError, StoreNotFoundError
from tests.conftest import make_toy_workspace


@pytest.fixture(scope="module")
def trained_elsewhere(tmp_path_factory):
    """A toy workspace with a trained run r1, and another toy workspace of another seed."""
    root = tmp_path_factory.mktemp("import")
    source = make_toy_workspace(root / "a", n=200, seed=0)
    train(TrainConfig.from_profile(source.root, "r1", profile="test", epochs=(1, 1, 0)))
    return source, root


@pytest.mark.slow
class TestImportRun:
    def test_the_model_labels_and_is_tested_on_the_other_catalog(self, trained_elsewhere):
        source, root = trained_elsewhere
        target = make_toy_workspace(root / "b1", n=120, seed=1)
        result = import_run(source.root, "r1", target.root, name="from-a")
        assert (result.run, result.differences) == ("from-a", {})
        run = target.catalog().run("from-a")
        attrs = run.attrs
        assert attrs["status"] == "trained"
        assert attrs["imported_from"]["run"] == "r1"
        assert attrs["imported_from"]["catalog_id"] == source.catalog().catalog_id
        assert attrs["config"] == source.catalog().run("r1").attrs["config"]
        assert len(run.read("train_index")) == 0  # it trained on none of these galaxies
        assert filecmp.cmp(
            source.model_dir("r1") / MODEL_FILE, target.model_dir("from-a") / MODEL_FILE
        )
        predictions = predict(target, "from-a")
        assert predictions.probs.shape[0] == len(target.catalog())
        metrics = evaluate_run(target.root, "from-a")
        assert metrics
        assert target.catalog().run("from-a").attrs["test_metrics"]

    def test_different_curations_are_named(self, trained_elsewhere):
        source, root = trained_elsewhere
        target = make_toy_workspace(root / "b2", n=60, seed=2)
        group = zarr.open_group(target.catalog_path, mode="r+")
        group.attrs["curation"] = {"size": 96, "field_arcsec": 40.0}
        result = import_run(source.root, "r1", target.root)
        assert result.differences == {"size": (None, 96), "field_arcsec": (None, 40.0)}
        recorded = target.catalog().run("r1").attrs["imported_from"]["curation_differences"]
        assert recorded == {"size": [None, 96], "field_arcsec": [None, 40.0]}

    def test_refusals_leave_the_target_as_it_was(self, trained_elsewhere):
        source, root = trained_elsewhere
        target = make_toy_workspace(root / "b3", n=60, seed=3)
        import_run(source.root, "r1", target.root)
        target.model_dir("r1").rename(root / "moved")
        with pytest.raises(RunExistsError, match="run 'r1' exists"):
            import_run(source.root, "r1", target.root)
        assert not target.model_dir("r1").exists()  # the failed import removed its copy
        (root / "moved").rename(target.model_dir("r1"))
        with pytest.raises(TrainingError, match="exists already; choose another name with --as"):
            import_run(source.root, "r1", target.root)
        with pytest.raises(StoreNotFoundError, match="no run 'r9'"):
            import_run(source.root, "r9", target.root, name="x")
        source.catalog().create_run("broken", status="failed")
        with pytest.raises(TrainingError, match="run 'broken' .* is 'failed', not trained"):
            import_run(source.root, "broken", target.root)
        assert target.catalog().runs() == ["r1"]
        assert sorted(p.name for p in (target.root / "models").iterdir()) == ["r1"]

    def test_command(self, trained_elsewhere, capsys):
        source, root = trained_elsewhere
        target = make_toy_workspace(root / "b4", n=60, seed=4)
        argv = ["import-run", "--workspace", str(target.root), "--from", str(source.root)]
        assert galcore_main([*argv, "--run", "r1", "--as", "a-r1"]) == 0
        out = capsys.readouterr().out
        assert f"imported run r1 of {source.root} as a-r1" in out
        assert "next: galcore predict" in out
        assert np.array_equal(target.catalog().run("a-r1").read("train_label"), [])

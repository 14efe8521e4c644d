"""Inference: probabilities and features of every curated object, never augmented."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from galcore.errors import TrainingError
from galcore.inference import Predictions, predict, predict_block
from galcore.training import MODEL_FILE, build_model
from store import LABELS, CatalogWriter, StoreNotFoundError, Workspace
from tests.conftest import TOY_SIZE, TOY_STATUS, block_write_fails_at, toy_columns


def _saved_run(workspace, *, image_size=32, name="r1"):
    """A run with an (untrained) model saved where training puts it."""
    workspace.catalog().create_run(name, status="trained")
    model = build_model(len(LABELS), image_size, backbone="compact", weights=None)
    workspace.model_dir(name).mkdir(parents=True)
    model.save(workspace.model_dir(name) / MODEL_FILE)
    return model


class TestPredict:
    def test_writes_probs_and_features(self, toy_workspace):
        _saved_run(toy_workspace)
        result = predict(toy_workspace, "r1", batch_size=32)
        run = toy_workspace.catalog().run("r1")
        n = len(toy_workspace.catalog())
        assert result.probs.shape == (n, len(LABELS))
        assert result.features.shape == (n, 1024)
        np.testing.assert_array_equal(run.read("probs"), result.probs)
        np.testing.assert_array_equal(run.read("features"), result.features)
        assert run.attrs["predicted"]["n"] == n - 1

    def test_probabilities_sum_to_one_and_failed_rows_are_nan(self, toy_workspace):
        _saved_run(toy_workspace)
        result = predict(toy_workspace.root, "r1")
        failed = ~toy_workspace.catalog().ok()
        assert failed.sum() == 1
        assert np.isnan(result.probs[failed]).all()
        assert np.isnan(result.features[failed]).all()
        np.testing.assert_allclose(result.probs[~failed].sum(axis=1), 1, rtol=1e-5)
        assert np.isfinite(result.features[~failed]).all()
        assert (result.n_predicted, result.n_skipped) == (len(failed) - 1, 1)

    def test_matches_the_model_without_augmentation(self, toy_workspace):
        model = _saved_run(toy_workspace)
        first = predict(toy_workspace, "r1", batch_size=64)
        second = predict(toy_workspace, "r1", batch_size=7)
        # Equal up to float rounding (the kernels' blocking depends on the batch size); any
        # augmentation left on would move them by far more.
        np.testing.assert_allclose(first.probs, second.probs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(first.features, second.features, rtol=1e-5, atol=1e-5)
        images = toy_workspace.catalog().read_images([0, 1, 2]).astype(np.float32)
        np.testing.assert_allclose(model.predict(images, verbose=0), first.probs[:3], rtol=1e-5)

    def test_resizes_to_the_model_input(self, toy_workspace):
        _saved_run(toy_workspace, image_size=48)
        result = predict(toy_workspace, "r1")
        assert isinstance(result, Predictions)
        assert result.n_predicted == len(toy_workspace.catalog()) - 1

    def test_missing_model(self, toy_workspace):
        toy_workspace.catalog().create_run("empty")
        path = toy_workspace.model_dir("empty") / MODEL_FILE
        with pytest.raises(TrainingError, match=f"run 'empty' has no model at {path}; train it"):
            predict(toy_workspace, "empty")

    def test_missing_run(self, toy_workspace):
        with pytest.raises(StoreNotFoundError, match="no run 'ghost'"):
            predict(toy_workspace, "ghost")

    def test_bad_batch_size(self, toy_workspace):
        with pytest.raises(TrainingError, match="batch_size=0 must be at least 1"):
            predict(toy_workspace, "r1", batch_size=0)

    def test_nothing_curated(self, tmp_path):
        workspace = Workspace(tmp_path / "ws")
        columns = toy_columns(4, np.random.default_rng(0))
        writer = CatalogWriter(
            workspace.catalog_path, columns, image_size=TOY_SIZE, status_codes=TOY_STATUS
        )
        writer.set_status(np.ones(4, dtype=np.uint8), {row: "off the frame" for row in range(4)})
        writer.commit()
        _saved_run(workspace)
        with pytest.raises(TrainingError, match="has no curated object"):
            predict(workspace, "r1")


class TestBlocks:
    def test_blocks_give_the_whole_catalogs_numbers(self, toy_workspace):
        _saved_run(toy_workspace)
        whole = predict(toy_workspace, "r1")
        probs, features = whole.probs, whole.features
        blocks = predict(toy_workspace, "r1", block_rows=48)
        np.testing.assert_allclose(blocks.probs, probs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(blocks.features, features, rtol=1e-5, atol=1e-5)
        assert toy_workspace.catalog().images.shape[0] == len(probs)

    def test_resume_computes_only_what_a_failure_left(self, toy_workspace):
        _saved_run(toy_workspace)
        reference = predict(toy_workspace, "r1", block_rows=64)
        probs, features = reference.probs, reference.features
        with block_write_fails_at(128):
            predict(toy_workspace, "r1", block_rows=64)
        np.testing.assert_array_equal(toy_workspace.catalog().run("r1").read("probs"), probs)
        with mock.patch("galcore.inference.predict_block", wraps=predict_block) as task:
            resumed = predict(toy_workspace, "r1", block_rows=64, resume=True)
        assert sorted(call.args[2] for call in task.call_args_list) == [128, 192]
        np.testing.assert_array_equal(resumed.probs, probs)
        np.testing.assert_array_equal(resumed.features, features)

    def test_without_resume_it_starts_over(self, toy_workspace):
        _saved_run(toy_workspace)
        predict(toy_workspace, "r1", block_rows=64)
        with mock.patch("galcore.inference.predict_block", wraps=predict_block) as task:
            predict(toy_workspace, "r1", block_rows=64)
        assert task.call_count == 4

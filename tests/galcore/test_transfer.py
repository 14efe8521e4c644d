"""Transfer learning from a pretrained backbone, and mixed precision.

The ImageNet weights cannot be downloaded here and must not be needed, so the tests make a
pretrained-like Xception weights file of their own (random weights, batch-norm statistics moved
away from their initial values) and run `benchmarks/check_transfer.py` on it, the script that
checks the real file.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest

from galcore.cli.main import main as galcore_main
from galcore.errors import TrainingError
from galcore.inference import predict
from galcore.training import PROFILES, TrainConfig, backbone_of, build_model, get_profile
from store import LABELS
from tests.conftest import make_toy_workspace

CHECK_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "check_transfer.py"


@pytest.fixture(scope="module")
def xception_file(tmp_path_factory) -> Path:
    """A no-top Xception weights file as Keras's save_weights writes it, with moved statistics."""
    keras.utils.set_random_seed(1)
    base = keras.applications.Xception(include_top=False, weights=None, input_shape=(None, None, 3))
    rng = np.random.default_rng(1)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    path = tmp_path_factory.mktemp("weights") / "xception_notop.h5"
    base.save_weights(path)
    return path


def _check(weights: Path, capsys) -> tuple[int, str]:
    """Run the check script in this process on 71 px inputs; return its exit code and output."""
    argv = [str(CHECK_SCRIPT), "--weights", str(weights), "--size", "71", "--steps", "2"]
    with mock.patch.object(sys, "argv", argv), pytest.raises(SystemExit) as exited:
        runpy.run_path(str(CHECK_SCRIPT), run_name="__main__")
    return exited.value.code, capsys.readouterr().out


class TestTransferProfile:
    def test_is_the_papers_network_at_a_cpu_size(self):
        profile = get_profile("transfer")
        paper = PROFILES["paper"]
        assert (profile.backbone, profile.weights, profile.batch_norm) == (
            paper.backbone,
            paper.weights,
            paper.batch_norm,
        )
        assert profile.dropout_rate == paper.dropout_rate
        assert 71 <= profile.image_size < paper.image_size

    def test_weights_override(self, tmp_path):
        config = TrainConfig.from_profile(tmp_path, "r1", profile="transfer", weights="w.h5")
        assert config.profile.weights == "w.h5"


@pytest.mark.slow
class TestPretrainedBackbone:
    def test_checks_pass_on_a_pretrained_file(self, xception_file, capsys):
        code, out = _check(xception_file, capsys)
        assert code == 0, out
        assert "| stage 1 | trains from layer none: 0 backbone layers changed of 0" in out
        assert "| stage 2 | trains from layer 40 (block5_sepconv2)" in out
        assert "| stage 3 | trains from layer 2 (block1_conv1_bn)" in out
        assert out.count("0 with batch-norm statistics changed") == 3
        assert "all checks passed" in out

    def test_a_wrong_unfreezing_point_fails(self, xception_file, capsys):
        wrong = {"xception": (None, "block4_sepconv1", "block1_conv1_bn")}
        with mock.patch("galcore.training._model.STAGE_TRAINABLE_FROM", wrong):
            code, out = _check(xception_file, capsys)
        assert code == 1
        assert "failed: stage 2" in out

    def test_batch_norm_in_training_mode_fails(self, xception_file, capsys):
        def batch_mode(*args, **kwargs):
            return build_model(*args, **{**kwargs, "batch_norm": "batch"})

        with mock.patch("galcore.training.build_model", batch_mode):
            code, out = _check(xception_file, capsys)
        assert code == 1
        assert "failed: stage 2, stage 3" in out  # their moving statistics moved

    def test_the_file_is_loaded(self, xception_file):
        model = build_model(len(LABELS), 71, backbone="xception", weights=xception_file)
        bn = backbone_of(model).get_layer("block1_conv1_bn")
        reference = keras.applications.Xception(
            include_top=False, weights=str(xception_file), input_shape=(71, 71, 3)
        )
        np.testing.assert_array_equal(
            bn.moving_variance.numpy(), reference.get_layer("block1_conv1_bn").moving_variance
        )
        assert not np.allclose(bn.moving_variance.numpy(), 1.0)


class TestMixedPrecision:
    def test_backbone_in_bfloat16_head_in_float32(self):
        model = build_model(2, 32, backbone="compact", weights=None, precision="mixed_bfloat16")
        base = backbone_of(model)
        assert base.get_layer("b1_conv").compute_dtype == "bfloat16"
        assert base.get_layer("b1_conv").kernel.dtype == "float32"
        for name in ("pool", "dense", "features", "probs"):
            assert model.get_layer(name).compute_dtype == "float32"
        images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
        probs = model.predict(images, verbose=0)
        assert probs.dtype == np.float32
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
        assert keras.mixed_precision.global_policy().name == "float32"  # restored

    def test_unknown_precision(self):
        with pytest.raises(TrainingError, match="precision='float8' is not known"):
            build_model(2, 32, backbone="compact", weights=None, precision="float8")

    @pytest.mark.slow
    def test_train_and_predict_in_mixed_bfloat16(self, tmp_path, capsys):
        workspace = make_toy_workspace(tmp_path / "ws", n=200)
        argv = ["train", "--workspace", str(workspace.root), "--run", "r1", "--profile", "test"]
        assert galcore_main([*argv, "--mixed-precision", "mixed_bfloat16"]) == 0
        assert "trained run r1" in capsys.readouterr().out
        run = workspace.catalog().run("r1")
        assert run.attrs["config"]["profile"]["precision"] == "mixed_bfloat16"
        model = keras.models.load_model(workspace.model_dir("r1") / "model.keras", compile=False)
        assert backbone_of(model).get_layer("b1_conv").compute_dtype == "bfloat16"
        predictions = predict(workspace, "r1")
        ok = workspace.catalog().ok()
        assert np.isfinite(predictions.probs[ok]).all()
        assert predictions.features.dtype == np.float32

"""The classifier: layers, the three-stage freezing for both backbones, weights files."""

from __future__ import annotations

from unittest import mock

import keras
import numpy as np
import pytest

from galcore.errors import TrainingError
from galcore.training import (
    FEATURES_LAYER,
    STAGE_FROZEN_LAYERS,
    backbone_of,
    build_model,
    freeze_for_stage,
    weights_sha256,
)
from store import LABELS

HEAD = ["pool", "dense", "dropout", FEATURES_LAYER, "probs"]


@pytest.fixture(scope="module")
def xception():
    return build_model(len(LABELS), 71, backbone="xception", weights=None)


@pytest.fixture
def compact():
    return build_model(len(LABELS), 32, backbone="compact", weights=None)


class TestBuildModel:
    @pytest.mark.parametrize("backbone", ["xception", "compact"])
    def test_layers(self, backbone, xception, compact):
        model = xception if backbone == "xception" else compact
        assert [layer.name for layer in model.layers] == ["image", "scale", backbone, *HEAD]
        assert model.get_layer(FEATURES_LAYER).output_shape == (None, 1024)
        assert model.get_layer("probs").output_shape == (None, len(LABELS))
        assert model.get_layer("dropout").rate == 0.7
        assert backbone_of(model).name == backbone

    def test_outputs_are_probabilities(self, compact):
        images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
        probs = compact.predict(images, verbose=0)
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)

    def test_input_is_scaled_to_minus_one_one(self, compact):
        scale = keras.Model(compact.input, compact.get_layer("scale").output)
        images = np.stack([np.zeros((32, 32, 3)), np.full((32, 32, 3), 255.0)])
        scaled = scale.predict(images.astype(np.float32), verbose=0)
        np.testing.assert_allclose(scaled[0], -1)
        np.testing.assert_allclose(scaled[1], 1)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            pytest.param({"backbone": "resnet"}, "backbone='resnet' is not known", id="backbone"),
            pytest.param({"n_classes": 1}, "n_classes=1 must be at least 2", id="classes"),
            pytest.param({"image_size": 8}, "image_size=8 is too small for compact", id="size"),
            pytest.param({"dropout_rate": 1.0}, r"dropout_rate=1.0 must be in \[0, 1\)", id="drop"),
            pytest.param({"weights": "imagenet"}, "xception backbone only", id="imagenet"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        arguments = {"n_classes": 2, "image_size": 32, "backbone": "compact", "weights": None}
        with pytest.raises(TrainingError, match=match):
            build_model(**(arguments | kwargs))


class TestWeights:
    def test_xception_weights_file_loads(self, tmp_path, xception):
        source = backbone_of(xception)
        path = tmp_path / "xception_notop.h5"
        source.save_weights(path)
        model = build_model(2, 71, backbone="xception", weights=path)
        loaded = backbone_of(model).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(loaded, source.get_weights(), strict=True))

    def test_compact_weights_file_loads(self, tmp_path, compact):
        path = tmp_path / "compact.weights.h5"
        backbone_of(compact).save_weights(path)
        model = build_model(2, 32, backbone="compact", weights=str(path))
        assert weights_sha256(backbone_of(model)) == weights_sha256(backbone_of(compact))

    def test_missing_file_names_the_path(self, tmp_path):
        path = tmp_path / "nowhere.h5"
        with pytest.raises(TrainingError, match=f"weights file {path} does not exist"):
            build_model(2, 71, backbone="xception", weights=path)

    def test_unreadable_file_names_the_path(self, tmp_path):
        path = tmp_path / "broken.h5"
        path.write_text("not hdf5")
        with pytest.raises(TrainingError, match=f"weights file {path} does not fit the compact"):
            build_model(2, 32, backbone="compact", weights=path)

    def test_imagenet_without_network_says_what_to_do(self):
        failing = mock.patch(
            "keras.src.applications.xception.data_utils.get_file",
            side_effect=Exception("URL fetch failure"),
        )
        with failing, pytest.raises(TrainingError, match="could not get the ImageNet Xception"):
            build_model(2, 71, backbone="xception", weights="imagenet")


class TestFreezeForStage:
    @pytest.mark.parametrize("backbone", ["xception", "compact"])
    @pytest.mark.parametrize("stage", [1, 2, 3])
    def test_trainable_layers(self, backbone, stage, xception, compact):
        model = xception if backbone == "xception" else compact
        freeze_for_stage(model, stage)
        base = backbone_of(model)
        frozen = STAGE_FROZEN_LAYERS[backbone][stage - 1]
        expected = [frozen is not None and index >= frozen for index in range(len(base.layers))]
        assert [layer.trainable for layer in base.layers] == expected
        assert all(model.get_layer(name).trainable for name in HEAD)
        assert bool(base.trainable_weights) == (stage > 1)

    def test_paper_freeze_points(self):
        assert STAGE_FROZEN_LAYERS["xception"] == (None, 40, 2)
        assert STAGE_FROZEN_LAYERS["compact"][::2] == (None, 2)

    def test_stage_one_freezes_whole_backbone(self, compact):
        freeze_for_stage(compact, 1)
        head = sum(w.shape.num_elements() for w in compact.trainable_weights)
        head_only = sum(
            w.shape.num_elements() for name in HEAD for w in compact.get_layer(name).weights
        )
        assert head == head_only

    def test_bad_stage(self, compact):
        with pytest.raises(TrainingError, match="stage=4 is not a stage; use 1 to 3"):
            freeze_for_stage(compact, 4)

    def test_model_without_backbone(self):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="plain")
        with pytest.raises(TrainingError, match="model 'plain' has no backbone layer"):
            freeze_for_stage(model, 1)


class TestWeightsSha256:
    def test_equal_weights_equal_digests(self, compact):
        twin = keras.models.clone_model(compact)
        twin.set_weights(compact.get_weights())
        assert weights_sha256(twin) == weights_sha256(compact)

    def test_changed_weight_changes_digest(self, compact):
        before = weights_sha256(compact)
        bias = compact.get_layer("probs").bias
        bias.assign(bias + 1e-6)
        assert weights_sha256(compact) != before
        assert len(before) == 64

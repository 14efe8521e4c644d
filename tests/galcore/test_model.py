"""The classifier: every backbone's layers, preprocessing, three-stage freezing and weights."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from unittest import mock

import keras
import numpy as np
import pytest

from galcore.errors import TrainingError
from galcore.training import (
    BACKBONES,
    FEATURES_LAYER,
    MIN_IMAGE_SIZE,
    STAGE_TRAINABLE_FROM,
    backbone_of,
    build_model,
    freeze_for_stage,
    weights_sha256,
)
from store import LABELS

HEAD = ["pool", "dense", "dropout", FEATURES_LAYER, "probs"]

PREPROCESS_INPUT = {
    "xception": keras.applications.xception.preprocess_input,
    "inceptionv3": keras.applications.inception_v3.preprocess_input,
    "resnet50": keras.applications.resnet50.preprocess_input,
    "vgg16": keras.applications.vgg16.preprocess_input,
    "mobilenetv2": keras.applications.mobilenet_v2.preprocess_input,
    "compact": keras.applications.xception.preprocess_input,  # [-1, 1] as well
}

APPLICATIONS = {
    "xception": "Xception",
    "inceptionv3": "InceptionV3",
    "resnet50": "ResNet50",
    "vgg16": "VGG16",
    "mobilenetv2": "MobileNetV2",
}

IMAGENET_FILES = {
    "xception": "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "inceptionv3": "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "mobilenetv2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
}

# Saving and loading these takes 10-30 s on two CPU cores.
SLOW_TO_LOAD = {"xception", "inceptionv3", "resnet50"}


@pytest.fixture(scope="module")
def built():
    """Each backbone's model at its smallest size, built on first use and shared by the module."""

    @functools.cache
    def build(backbone):
        return build_model(len(LABELS), MIN_IMAGE_SIZE[backbone], backbone=backbone, weights=None)

    return build


@pytest.fixture
def compact():
    return build_model(len(LABELS), 32, backbone="compact", weights=None)


def _images(backbone, n=3):
    size = MIN_IMAGE_SIZE[backbone]
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


class TestBuildModel:
    def test_every_backbone_has_a_size_and_stages(self):
        assert set(MIN_IMAGE_SIZE) == set(STAGE_TRAINABLE_FROM) == set(BACKBONES)
        assert set(PREPROCESS_INPUT) == set(BACKBONES)

    @pytest.mark.parametrize("backbone", BACKBONES)
    def test_layers(self, backbone, built):
        model = built(backbone)
        assert [layer.name for layer in model.layers] == ["image", "scale", backbone, *HEAD]
        assert model.get_layer(FEATURES_LAYER).output_shape == (None, 1024)
        assert model.get_layer("probs").output_shape == (None, len(LABELS))
        assert model.get_layer("dropout").rate == 0.7
        assert backbone_of(model).name == backbone

    @pytest.mark.parametrize("backbone", BACKBONES)
    def test_outputs_are_probabilities(self, backbone, built):
        probs = built(backbone).predict(_images(backbone), verbose=0)
        assert probs.shape == (3, len(LABELS))
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)

    @pytest.mark.parametrize("backbone", BACKBONES)
    def test_scale_is_the_backbones_preprocess_input(self, backbone, built):
        model = built(backbone)
        images = _images(backbone)
        scaled = keras.Model(model.input, model.get_layer("scale").output).predict(
            images, verbose=0
        )
        expected = PREPROCESS_INPUT[backbone](images.copy())  # it works in place
        # Rescaling multiplies by 1 / 127.5 where Keras divides: at most one float32 ulp.
        np.testing.assert_allclose(scaled, expected, rtol=0, atol=1e-6)

    def test_compact_input_is_scaled_to_minus_one_one(self, compact):
        scale = keras.Model(compact.input, compact.get_layer("scale").output)
        images = np.stack([np.zeros((32, 32, 3)), np.full((32, 32, 3), 255.0)])
        scaled = scale.predict(images.astype(np.float32), verbose=0)
        np.testing.assert_allclose(scaled[0], -1)
        np.testing.assert_allclose(scaled[1], 1)

    @pytest.mark.parametrize("backbone", BACKBONES)
    def test_below_the_smallest_size(self, backbone):
        size = MIN_IMAGE_SIZE[backbone]
        match = f"image_size={size - 1} is too small for {backbone}: at least {size}"
        with pytest.raises(TrainingError, match=match):
            build_model(2, size - 1, backbone=backbone, weights=None)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            pytest.param({"backbone": "resnet"}, "backbone='resnet' is not known", id="backbone"),
            pytest.param({"n_classes": 1}, "n_classes=1 must be at least 2", id="classes"),
            pytest.param({"dropout_rate": 1.0}, r"dropout_rate=1.0 must be in \[0, 1\)", id="drop"),
            pytest.param({"weights": "imagenet"}, "compact backbone has no", id="imagenet"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        arguments = {"n_classes": 2, "image_size": 32, "backbone": "compact", "weights": None}
        with pytest.raises(TrainingError, match=match):
            build_model(**(arguments | kwargs))


class TestGroupNormalisation:
    @pytest.fixture(scope="class")
    def grouped(self):
        return build_model(2, 32, backbone="compact", weights=None, batch_norm="group")

    def test_compact_normalises_groups_of_channels(self, grouped):
        layers = backbone_of(grouped).layers
        assert not [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
        norms = [layer for layer in layers if isinstance(layer, keras.layers.GroupNormalization)]
        assert [layer.name for layer in norms] == ["b1_norm", "b2_norm", "b3_norm", "b4_norm"]

    def test_training_and_inference_compute_the_same(self, grouped):
        base = backbone_of(grouped)
        images = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype(np.float32)
        trained = base(images, training=True)
        np.testing.assert_allclose(base(images, training=False), trained, rtol=1e-5, atol=1e-6)
        # One image's output does not depend on the others in its batch.
        np.testing.assert_allclose(base(images[:1], training=True), trained[:1], atol=1e-5)

    def test_batch_normalisation_depends_on_the_batch(self):
        base = backbone_of(build_model(2, 32, backbone="compact", weights=None))
        images = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype(np.float32)
        assert not np.allclose(base(images[:1], training=True), base(images, training=True)[:1])

    def test_only_for_the_compact_backbone(self):
        with pytest.raises(TrainingError, match="batch_norm='group' is for the compact backbone"):
            build_model(2, 71, backbone="xception", weights=None, batch_norm="group")

    def test_freeze_points_are_the_same(self, grouped):
        names = [layer.name for layer in backbone_of(grouped).layers]
        _, second, third = STAGE_TRAINABLE_FROM["compact"]
        assert (names.index(second), names.index(third)) == (9, 2)


class TestWeights:
    @pytest.mark.parametrize("backbone", BACKBONES)
    def test_weights_file_loads(self, tmp_path, backbone, built):
        source = backbone_of(built(backbone))
        path = tmp_path / f"{backbone}_notop.h5"
        source.save_weights(path)
        model = build_model(2, MIN_IMAGE_SIZE[backbone], backbone=backbone, weights=str(path))
        assert weights_sha256(backbone_of(model)) == weights_sha256(source)

    def test_missing_file_names_the_path(self, tmp_path):
        path = tmp_path / "nowhere.h5"
        with pytest.raises(TrainingError, match=f"weights file {path} does not exist"):
            build_model(2, 32, backbone="resnet50", weights=path)

    def test_unreadable_file_names_the_path(self, tmp_path):
        path = tmp_path / "broken.h5"
        path.write_text("not hdf5")
        with pytest.raises(TrainingError, match=f"weights file {path} does not fit the compact"):
            build_model(2, 32, backbone="compact", weights=path)

    def test_imagenet_comes_from_keras(self):
        vgg16 = keras.applications.VGG16

        def offline(**kwargs):
            return vgg16(**(kwargs | {"weights": None}))

        with mock.patch("keras.applications.VGG16", side_effect=offline) as application:
            model = build_model(2, 32, backbone="vgg16", weights="imagenet")
        assert application.call_args.kwargs == {
            "include_top": False,
            "weights": "imagenet",
            "input_shape": (32, 32, 3),
        }
        assert backbone_of(model).name == "vgg16"

    @pytest.mark.parametrize(("backbone", "application"), APPLICATIONS.items())
    def test_imagenet_without_network_names_the_file(self, backbone, application):
        failing = mock.patch(
            f"keras.applications.{application}", side_effect=Exception("URL fetch failure")
        )
        match = re.escape(IMAGENET_FILES[backbone]) + ".*--weights PATH"
        with failing, pytest.raises(TrainingError, match=match):
            build_model(2, MIN_IMAGE_SIZE[backbone], backbone=backbone, weights="imagenet")

    def test_mobilenetv2_weights_file_follows_the_size(self):
        failing = mock.patch("keras.applications.MobileNetV2", side_effect=Exception("offline"))
        match = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_128_no_top.h5"
        with failing, pytest.raises(TrainingError, match=re.escape(match)):
            build_model(2, 128, backbone="mobilenetv2", weights="imagenet")


class TestFreezeForStage:
    @pytest.mark.parametrize("backbone", BACKBONES)
    @pytest.mark.parametrize("stage", [1, 2, 3])
    def test_trainable_layers(self, backbone, stage, built):
        model = built(backbone)
        freeze_for_stage(model, stage)
        base = backbone_of(model)
        names = [layer.name for layer in base.layers]
        first = STAGE_TRAINABLE_FROM[backbone][stage - 1]
        start = len(names) if first is None else names.index(first)
        assert [layer.trainable for layer in base.layers] == [i >= start for i in range(len(names))]
        assert first is None or base.get_layer(first).trainable
        assert all(model.get_layer(name).trainable for name in HEAD)
        assert not model.get_layer("scale").trainable_weights
        assert bool(base.trainable_weights) == (stage > 1)

    def test_paper_freeze_points(self, built):
        names = [layer.name for layer in backbone_of(built("xception")).layers]
        _, second, third = STAGE_TRAINABLE_FROM["xception"]
        assert (names.index(second), names.index(third)) == (40, 2)  # layers 0-39, then 0-1

    def test_compact_freeze_points(self, compact):
        names = [layer.name for layer in backbone_of(compact).layers]
        _, second, third = STAGE_TRAINABLE_FROM["compact"]
        assert (names.index(second), names.index(third)) == (9, 2)

    def test_stage_one_freezes_whole_backbone(self, compact):
        freeze_for_stage(compact, 1)
        head = sum(w.shape.num_elements() for w in compact.trainable_weights)
        head_only = sum(
            w.shape.num_elements() for name in HEAD for w in compact.get_layer(name).weights
        )
        assert head == head_only

    def test_unknown_layer_name(self, compact):
        stages = {"compact": (None, "b9_conv", "b1_norm")}
        with (
            mock.patch("galcore.training._model.STAGE_TRAINABLE_FROM", stages),
            pytest.raises(TrainingError, match="compact backbone has no layer 'b9_conv'"),
        ):
            freeze_for_stage(compact, 2)

    def test_bad_stage(self, compact):
        with pytest.raises(TrainingError, match="stage=4 is not a stage; use 1 to 3"):
            freeze_for_stage(compact, 4)

    def test_model_without_backbone(self):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="plain")
        with pytest.raises(TrainingError, match="model 'plain' has no backbone layer"):
            freeze_for_stage(model, 1)


class TestSavedModel:
    @pytest.mark.parametrize(
        "backbone",
        [pytest.param(b, marks=pytest.mark.slow) if b in SLOW_TO_LOAD else b for b in BACKBONES],
    )
    def test_loads_and_predicts_the_same(self, tmp_path, backbone, built):
        model = built(backbone)
        path = tmp_path / "model.keras"
        model.save(path)
        loaded = keras.models.load_model(path, compile=False)
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
        images = _images(backbone)
        np.testing.assert_allclose(
            loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5
        )

    def test_loads_without_galcore(self, tmp_path, built):
        model = built("vgg16")  # its scale layer is the caffe one, a 1x1 convolution
        path = tmp_path / "model.keras"
        model.save(path)
        images = _images("vgg16", n=1)
        code = (
            "import json, sys, keras, numpy as np;"
            f"model = keras.models.load_model({str(path)!r}, compile=False);"
            f"images = np.array({images.tolist()!r}, np.float32);"
            "print(json.dumps(model.predict(images, verbose=0).tolist()));"
            "print('galcore' in sys.modules)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        *_, probs, imported = result.stdout.splitlines()
        np.testing.assert_allclose(json.loads(probs), model.predict(images, verbose=0), rtol=1e-5)
        assert imported == "False"


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

"""The classifier: a backbone, a pooled 1024-d feature head and a softmax, in three stages."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from galcore.errors import TrainingError
from galcore.training._backbones import (
    MIN_IMAGE_SIZE,
    STAGE_TRAINABLE_FROM,
    make_backbone,
    preprocessing,
)
from galcore.training._profiles import BACKBONES, BATCH_NORM_MODES, N_STAGES, PRECISIONS

if TYPE_CHECKING:
    import keras

__all__ = [
    "FEATURES_LAYER",
    "FEATURES_WIDTH",
    "backbone_of",
    "build_model",
    "freeze_for_stage",
    "mixed_precision_policy",
    "weights_sha256",
]

FEATURES_LAYER = "features"
"""Name of the 1024-unit layer whose output the t-SNE embeds."""
FEATURES_WIDTH = 1024
"""Units of the ``features`` layer (and of the ``dense`` one before it)."""


def build_model(
    n_classes: int,
    image_size: int,
    *,
    backbone: str = "xception",
    weights: str | Path | None = "imagenet",
    dropout_rate: float = 0.7,
    batch_norm: str = "inference",
    precision: str = "float32",
) -> keras.Model:
    """Build the classifier with the Keras Functional API.

    The layers are: ``image`` (floats in [0, 255]) -> ``scale`` (the backbone's Keras
    ``preprocess_input`` in built-in layers: to [-1, 1], or for resnet50 and vgg16 RGB to BGR
    minus the ImageNet mean) -> the backbone as one nested model (named after it) -> ``pool``
    -> ``dense`` (1024, ReLU) -> ``dropout`` -> ``features`` (1024, ReLU) -> ``probs``
    (softmax).

    With ``batch_norm="inference"`` the backbone is called with ``training=False``, as Keras's
    transfer-learning guide does: its batch-normalisation layers normalise with their moving
    statistics in training and in inference alike, frozen or not, so training and validation
    see the same network. With ``"batch"`` unfrozen layers normalise each training batch with
    its own statistics and update the moving ones. With ``"group"`` the compact backbone uses
    group normalisation instead, the same in training and inference without moving statistics
    (``benchmarks/bench_batchnorm.py`` compares the three).

    With a mixed `precision` the scaling and the backbone compute in float16 or bfloat16 and
    keep float32 weights; the head (from ``pool`` on) computes in float32, so the features
    and probabilities are float32 and the softmax is stable. Under ``"mixed_float16"`` Keras's
    ``compile`` scales the loss (the model's dtype policy is the mixed one).

    Parameters
    ----------
    n_classes
        Number of classes, ``len(store.LABELS)``.
    image_size
        Side of the square input in pixels.
    backbone
        One of `BACKBONES`: ``"xception"`` (the paper's), ``"inceptionv3"``, ``"resnet50"``,
        ``"vgg16"``, ``"mobilenetv2"`` (from ``keras.applications``, without their top) or
        ``"compact"`` (a small CNN with batch normalisation).
    weights
        ``"imagenet"`` (not for compact; downloaded by Keras or found in ``~/.keras/models``),
        the path of a local ``.h5`` file with the backbone's weights, or None for a random start.
    dropout_rate
        Dropout between the two dense layers.
    batch_norm
        ``"inference"``, ``"batch"`` or ``"group"`` (compact only): how the backbone
        normalises while training (see above).
    precision
        One of `PRECISIONS`: ``"float32"``, ``"mixed_float16"`` (GPUs) or ``"mixed_bfloat16"``
        (CPUs and accelerators with bfloat16).

    Returns
    -------
    keras.Model
        The uncompiled model, its backbone trainable.

    Raises
    ------
    TrainingError
        If an argument is out of range or the weights cannot be loaded.

    Examples
    --------
    >>> model = build_model(2, 32, backbone="compact", weights=None)  # doctest: +SKIP
    >>> model.get_layer("features").output_shape  # doctest: +SKIP
    (None, 1024)
    """
    import keras

    _check_arguments(n_classes, image_size, backbone, dropout_rate, batch_norm)
    if precision not in PRECISIONS:
        msg = f"precision={precision!r} is not known; use one of {', '.join(PRECISIONS)}"
        raise TrainingError(msg)
    with _dtype_policy(precision):
        base = make_backbone(backbone, image_size, weights, group_norm=batch_norm == "group")
        inputs = keras.Input((image_size, image_size, 3), name="image")
        x = preprocessing(backbone, layer_name="scale")(inputs)
        x = base(x, training=False) if batch_norm == "inference" else base(x)
        head = {"dtype": "float32"}
        x = keras.layers.GlobalAveragePooling2D(name="pool", **head)(x)
        x = keras.layers.Dense(FEATURES_WIDTH, activation="relu", name="dense", **head)(x)
        x = keras.layers.Dropout(dropout_rate, name="dropout", **head)(x)
        x = keras.layers.Dense(FEATURES_WIDTH, activation="relu", name=FEATURES_LAYER, **head)(x)
        outputs = keras.layers.Dense(n_classes, activation="softmax", name="probs", **head)(x)
        return keras.Model(inputs, outputs, name=f"galcore_{backbone}")


def mixed_precision_policy() -> str:
    """Return the mixed-precision policy for this machine's accelerator.

    Returns
    -------
    str
        ``"mixed_float16"`` where TensorFlow sees a GPU (its tensor cores compute in float16),
        else ``"mixed_bfloat16"`` (CPUs with AVX-512 BF16 or AMX, and TPUs).
    """
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


@contextlib.contextmanager
def _dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under the Keras dtype policy `precision`, then restore the one before."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def _check_arguments(
    n_classes: int, image_size: int, backbone: str, dropout_rate: float, batch_norm: str
) -> None:
    """Raise TrainingError for arguments `build_model` cannot use."""
    if batch_norm not in BATCH_NORM_MODES:
        msg = f"batch_norm={batch_norm!r} is not known; use one of {', '.join(BATCH_NORM_MODES)}"
        raise TrainingError(msg)
    if backbone not in BACKBONES:
        msg = f"backbone={backbone!r} is not known; use one of {', '.join(BACKBONES)}"
        raise TrainingError(msg)
    if batch_norm == "group" and backbone != "compact":
        msg = (
            f"batch_norm='group' is for the compact backbone; {backbone} comes with batch "
            "normalisation: use 'inference' or 'batch'"
        )
        raise TrainingError(msg)
    if n_classes < 2:
        msg = f"n_classes={n_classes} must be at least 2"
        raise TrainingError(msg)
    if image_size < MIN_IMAGE_SIZE[backbone]:
        smallest = MIN_IMAGE_SIZE[backbone]
        msg = f"image_size={image_size} is too small for {backbone}: at least {smallest}"
        raise TrainingError(msg)
    if not 0 <= dropout_rate < 1:
        msg = f"dropout_rate={dropout_rate} must be in [0, 1)"
        raise TrainingError(msg)


def backbone_of(model: keras.Model) -> keras.Model:
    """Return the backbone nested in a model made by `build_model`.

    Parameters
    ----------
    model
        A model from `build_model` (or loaded from a run's ``model.keras``).

    Returns
    -------
    keras.Model
        The nested backbone, named after one of `BACKBONES`.

    Raises
    ------
    TrainingError
        If the model holds no known backbone.
    """
    for layer in model.layers:
        if layer.name in BACKBONES:
            return layer
    msg = f"model {model.name!r} has no backbone layer named one of {', '.join(BACKBONES)}"
    raise TrainingError(msg)


def freeze_for_stage(model: keras.Model, stage: int) -> None:
    """Set which layers train in `stage`, the same way for every backbone.

    Stage 1 freezes the whole backbone; stages 2 and 3 freeze its layers before the one named
    ``STAGE_TRAINABLE_FROM[backbone][stage - 1]``. The head always trains. Recompile the model
    afterwards.

    Parameters
    ----------
    model
        A model from `build_model`.
    stage
        1, 2 or 3.

    Raises
    ------
    TrainingError
        If `stage` is not a stage number, or the backbone lacks the layer named for it.
    """
    if stage not in range(1, N_STAGES + 1):
        msg = f"stage={stage} is not a stage; use 1 to {N_STAGES}"
        raise TrainingError(msg)
    base = backbone_of(model)
    first = STAGE_TRAINABLE_FROM[base.name][stage - 1]
    names = [layer.name for layer in base.layers]
    if first is not None and first not in names:
        msg = f"the {base.name} backbone has no layer {first!r} to unfreeze stage {stage} from"
        raise TrainingError(msg)
    start = len(names) if first is None else names.index(first)
    base.trainable = first is not None
    for index, layer in enumerate(base.layers):
        layer.trainable = index >= start


def weights_sha256(model: keras.Model) -> str:
    """Return the SHA-256 of all the model's weights, in order; equal models give equal digests.

    Parameters
    ----------
    model
        Any Keras model.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()

"""The classifier: a backbone, a pooled 1024-d feature head and a softmax, in three stages."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from galcore.errors import TrainingError
from galcore.training._profiles import BACKBONES, N_STAGES

if TYPE_CHECKING:
    import keras

__all__ = [
    "FEATURES_LAYER",
    "MIN_IMAGE_SIZE",
    "STAGE_FROZEN_LAYERS",
    "backbone_of",
    "build_model",
    "freeze_for_stage",
    "weights_sha256",
]

FEATURES_LAYER = "features"
"""Name of the 1024-unit layer whose output the t-SNE embeds."""

STAGE_FROZEN_LAYERS: Mapping[str, tuple[int | None, ...]] = MappingProxyType(
    {"xception": (None, 40, 2), "compact": (None, 9, 2)}
)
"""Per backbone and stage, how many of the backbone's first layers stay frozen (None: all).

Xception follows the paper (layers 0-39, then 0-1). The compact backbone has an input layer and
four blocks of 4 layers: stage 2 trains its last two blocks, stage 3 all but its first conv.
"""

MIN_IMAGE_SIZE: Mapping[str, int] = MappingProxyType({"xception": 71, "compact": 16})
"""Smallest input side each backbone accepts."""

_COMPACT_FILTERS = (32, 64, 128, 256)


def build_model(
    n_classes: int,
    image_size: int,
    *,
    backbone: str = "xception",
    weights: str | Path | None = "imagenet",
    dropout_rate: float = 0.7,
) -> keras.Model:
    """Build the classifier with the Keras Functional API.

    The layers are: ``image`` (floats in [0, 255]) -> ``scale`` (to [-1, 1]) -> the backbone as one
    nested model (named after it) -> ``pool`` -> ``dense`` (1024, ReLU) -> ``dropout`` ->
    ``features`` (1024, ReLU) -> ``probs`` (softmax).

    Parameters
    ----------
    n_classes
        Number of classes, ``len(store.LABELS)``.
    image_size
        Side of the square input in pixels.
    backbone
        ``"xception"`` (the paper's) or ``"compact"`` (a small CNN with batch normalisation).
    weights
        ``"imagenet"`` (Xception only; downloaded by Keras or found in ``~/.keras/models``), the
        path of a local ``.h5`` file with the backbone's weights, or None for a random start.
    dropout_rate
        Dropout between the two dense layers.

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

    _check_arguments(n_classes, image_size, backbone, dropout_rate)
    base = _backbone(backbone, image_size, weights)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(1024, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
    x = keras.layers.Dense(1024, activation="relu", name=FEATURES_LAYER)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=f"galcore_{backbone}")


def _check_arguments(n_classes: int, image_size: int, backbone: str, dropout_rate: float) -> None:
    """Raise TrainingError for arguments `build_model` cannot use."""
    if backbone not in BACKBONES:
        msg = f"backbone={backbone!r} is not known; use one of {', '.join(BACKBONES)}"
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


def _backbone(name: str, image_size: int, weights: str | Path | None) -> keras.Model:
    """Return the named backbone without its top, with its weights loaded."""
    import keras

    shape = (image_size, image_size, 3)
    if weights == "imagenet":
        if name != "xception":
            msg = f"weights='imagenet' exists for the xception backbone only, not for {name!r}"
            raise TrainingError(msg)
        return _imagenet_xception(shape)
    path = None if weights is None else Path(weights)
    if path is not None and not path.is_file():
        msg = f"weights file {path} does not exist; pass 'imagenet', 'none' or an .h5 file"
        raise TrainingError(msg)
    if name == "xception":
        base = keras.applications.Xception(include_top=False, weights=None, input_shape=shape)
    else:
        base = _compact(shape)
    if path is not None:
        _load_weights(base, path)
    return base


def _imagenet_xception(shape: tuple[int, int, int]) -> keras.Model:
    """Return Xception with the ImageNet weights Keras downloads (or finds in its cache)."""
    import keras

    try:
        return keras.applications.Xception(include_top=False, weights="imagenet", input_shape=shape)
    except Exception as error:  # Keras raises a bare Exception when the download fails.
        msg = (
            f"could not get the ImageNet Xception weights ({error}); put "
            "xception_weights_tf_dim_ordering_tf_kernels_notop.h5 on this machine and pass its "
            "path as weights (--weights PATH), or use weights 'none'"
        )
        raise TrainingError(msg) from error


def _load_weights(base: keras.Model, path: Path) -> None:
    """Load a local weights file into the backbone, naming the file when it does not fit."""
    try:
        base.load_weights(path)
    except (ValueError, OSError) as error:
        msg = f"weights file {path} does not fit the {base.name} backbone: {error}"
        raise TrainingError(msg) from error


def _compact(shape: tuple[int, int, int]) -> keras.Model:
    """Return the compact backbone: four conv-batchnorm-relu-maxpool blocks."""
    import keras

    inputs = keras.Input(shape, name="compact_input")
    x = inputs
    for block, filters in enumerate(_COMPACT_FILTERS, start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"b{block}_conv")(
            x
        )
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"b{block}_bn")(x)
        x = keras.layers.Activation("relu", name=f"b{block}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"b{block}_pool")(x)
    return keras.Model(inputs, x, name="compact")


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

    Stage 1 freezes the whole backbone; stages 2 and 3 freeze its first
    ``STAGE_FROZEN_LAYERS[backbone][stage - 1]`` layers. The head always trains. Recompile the
    model afterwards.

    Parameters
    ----------
    model
        A model from `build_model`.
    stage
        1, 2 or 3.

    Raises
    ------
    TrainingError
        If `stage` is not a stage number.
    """
    if stage not in range(1, N_STAGES + 1):
        msg = f"stage={stage} is not a stage; use 1 to {N_STAGES}"
        raise TrainingError(msg)
    base = backbone_of(model)
    frozen = STAGE_FROZEN_LAYERS[base.name][stage - 1]
    base.trainable = frozen is not None
    for index, layer in enumerate(base.layers):
        layer.trainable = frozen is not None and index >= frozen


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

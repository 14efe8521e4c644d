"""The backbones: their input sizes, unfreezing points, preprocessing and weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from galcore.errors import TrainingError

if TYPE_CHECKING:
    import keras

__all__ = ["MIN_IMAGE_SIZE", "STAGE_TRAINABLE_FROM", "make_backbone", "preprocessing"]


@dataclass(frozen=True)
class _Backbone:
    """What galcore needs to know about one backbone.

    Parameters
    ----------
    application
        Its class in ``keras.applications``, or None for the compact CNN.
    preprocessing
        The mode of its Keras ``preprocess_input``: ``"tf"`` or ``"caffe"``.
    min_size
        Smallest input side.
    stages
        For each stage, the name of the first layer that trains (None: none).
    imagenet_file
        The no-top ImageNet weights file Keras downloads (``{size}``: the input side it is for).
    """

    application: str | None
    preprocessing: str
    min_size: int
    stages: tuple[str | None, str, str]
    imagenet_file: str | None = None


_BACKBONES: Mapping[str, _Backbone] = MappingProxyType(
    {
        # The paper: layers 0-39 frozen (the entry flow and block 5's first separable
        # convolution), then layers 0-1 (the input and the first convolution).
        "xception": _Backbone(
            application="Xception",
            preprocessing="tf",
            min_size=71,
            stages=(None, "block5_sepconv2", "block1_conv1_bn"),
            imagenet_file="xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        # Stage 2 trains the top two Inception blocks (mixed9, mixed10: the 1/32 scale), as
        # Keras's InceptionV3 fine-tuning example. Its convolutions have names that depend on
        # what the session built before (conv2d_N), so stage 3 starts at the first named block
        # output: the stem and the first block (mixed0) stay frozen.
        "inceptionv3": _Backbone(
            application="InceptionV3",
            preprocessing="tf",
            min_size=75,
            stages=(None, "mixed8", "mixed0"),
            imagenet_file="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        # Stage 2 trains conv5, the last residual stage (1/32 scale); stage 3 all but the stem
        # (the 7x7 conv1 and its pooling).
        "resnet50": _Backbone(
            application="ResNet50",
            preprocessing="caffe",
            min_size=32,
            stages=(None, "conv5_block1_1_conv", "conv2_block1_1_conv"),
            imagenet_file="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        # Stage 2 trains block 5, the last convolution block (the classic VGG16 fine-tuning);
        # stage 3 all but block 1, VGG's stem at full resolution.
        "vgg16": _Backbone(
            application="VGG16",
            preprocessing="caffe",
            min_size=32,
            stages=(None, "block5_conv1", "block2_conv1"),
            imagenet_file="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        # Stage 2 trains blocks 13-16 and Conv_1 (the 1/32 scale); stage 3 all but the Conv1
        # stem. Keras has ImageNet weights for 96-224 px inputs and uses the 224 px ones for
        # any other size.
        "mobilenetv2": _Backbone(
            application="MobileNetV2",
            preprocessing="tf",
            min_size=32,
            stages=(None, "block_13_expand", "expanded_conv_depthwise"),
            imagenet_file="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
        ),
        # An input and four blocks of 4 layers: stage 2 trains the last two blocks, stage 3 all
        # but the first convolution (as the paper).
        "compact": _Backbone(
            application=None,
            preprocessing="tf",
            min_size=16,
            stages=(None, "b3_conv", "b1_norm"),
        ),
    }
)

MIN_IMAGE_SIZE: Mapping[str, int] = MappingProxyType(
    {name: backbone.min_size for name, backbone in _BACKBONES.items()}
)
"""Smallest input side each backbone accepts."""

STAGE_TRAINABLE_FROM: Mapping[str, tuple[str | None, ...]] = MappingProxyType(
    {name: backbone.stages for name, backbone in _BACKBONES.items()}
)
"""Per backbone and stage, the name of the first backbone layer that trains.

The layers before it stay frozen; None freezes the whole backbone (stage 1).
"""

_MOBILENET_SIZES = (96, 128, 160, 192, 224)

_RGB_TO_BGR = ((((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),),)
"""Kernel of a 1x1 convolution (1, 1, in, out) whose output channel k is input channel 2 - k."""

_IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
"""The ImageNet mean of each channel in BGR order, as caffe-mode ``preprocess_input`` has it."""

_COMPACT_FILTERS = (32, 64, 128, 256)
_GROUPS = 8


def preprocessing(name: str, *, layer_name: str) -> keras.layers.Layer:
    """Return a layer that does the named backbone's Keras ``preprocess_input`` on [0, 255] images.

    ``"tf"`` mode maps [0, 255] to [-1, 1] (a ``Rescaling``). ``"caffe"`` mode turns RGB into BGR
    and subtracts the ImageNet mean of each channel: a frozen 1x1 convolution whose kernel
    swaps the channels and whose bias is minus the mean, exact since each output is one input
    times one. Built-in layers only: Keras 2.15 loads a custom layer only in a process that
    imported its class first.

    Parameters
    ----------
    name
        One of the backbones.
    layer_name
        The layer's name.

    Returns
    -------
    keras.layers.Layer
        The layer.
    """
    import keras

    if _BACKBONES[name].preprocessing == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name=layer_name)
    return keras.layers.Conv2D(
        3,
        1,
        kernel_initializer=keras.initializers.Constant(_RGB_TO_BGR),
        bias_initializer=keras.initializers.Constant(tuple(-mean for mean in _IMAGENET_BGR_MEAN)),
        trainable=False,
        name=layer_name,
    )


def make_backbone(
    name: str, image_size: int, weights: str | Path | None, *, group_norm: bool = False
) -> keras.Model:
    """Return the named backbone without its top, named `name`, with its weights loaded.

    Parameters
    ----------
    name
        One of the backbones (the caller checks it).
    image_size
        Side of the square input, at least ``MIN_IMAGE_SIZE[name]``.
    weights
        ``"imagenet"``, the path of a local ``.h5`` file, or None.
    group_norm
        The compact backbone only: group normalisation instead of batch normalisation.

    Returns
    -------
    keras.Model
        The backbone.

    Raises
    ------
    TrainingError
        If the weights cannot be found or loaded; the message names the file.
    """
    shape = (image_size, image_size, 3)
    if weights == "imagenet":
        return _imagenet(name, shape)
    path = None if weights is None else Path(weights)
    if path is not None and not path.is_file():
        msg = f"weights file {path} does not exist; pass 'imagenet', 'none' or an .h5 file"
        raise TrainingError(msg)
    if name == "compact":
        base = _compact(shape, group_norm=group_norm)
    else:
        base = _build(name, shape, None)
    if path is not None:
        _load_weights(base, path)
    return base


def _build(name: str, shape: tuple[int, int, int], weights: str | None) -> keras.Model:
    """Build the backbone with Keras's `weights` (None or ``"imagenet"``), named `name`."""
    import keras

    application = _BACKBONES[name].application
    # Looked up at each call, so that tests can replace the class.
    build = getattr(keras.applications, application)
    base = build(include_top=False, weights=weights, input_shape=shape)
    # Keras names some models by size (mobilenetv2_1.00_32); `backbone_of` needs our name.
    return keras.Model(base.inputs, base.output, name=name)


def _imagenet(name: str, shape: tuple[int, int, int]) -> keras.Model:
    """Return the backbone with the ImageNet weights Keras downloads (or finds in its cache)."""
    template = _BACKBONES[name].imagenet_file
    if template is None:
        msg = f"the {name} backbone has no ImageNet weights; use weights 'none' or an .h5 file"
        raise TrainingError(msg)
    try:
        return _build(name, shape, "imagenet")
    except Exception as error:  # Keras raises a bare Exception when the download fails.
        size = shape[0] if shape[0] in _MOBILENET_SIZES else 224
        msg = (
            f"could not get the ImageNet weights of {name} ({error}); put "
            f"{template.format(size=size)} on this machine and pass its path as weights "
            "(--weights PATH), or use weights 'none'"
        )
        raise TrainingError(msg) from error


def _load_weights(base: keras.Model, path: Path) -> None:
    """Load a local weights file into the backbone, naming the file when it does not fit."""
    try:
        base.load_weights(path)
    except (ValueError, OSError) as error:
        msg = f"weights file {path} does not fit the {base.name} backbone: {error}"
        raise TrainingError(msg) from error


def _compact(shape: tuple[int, int, int], *, group_norm: bool) -> keras.Model:
    """Return the compact backbone: four conv-norm-relu-maxpool blocks.

    Group normalisation (`_GROUPS` groups of channels) or batch normalisation (momentum 0.9).
    """
    import keras

    inputs = keras.Input(shape, name="compact_input")
    x = inputs
    for block, filters in enumerate(_COMPACT_FILTERS, start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"b{block}_conv")(
            x
        )
        if group_norm:
            x = keras.layers.GroupNormalization(_GROUPS, name=f"b{block}_norm")(x)
        else:
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"b{block}_norm")(x)
        x = keras.layers.Activation("relu", name=f"b{block}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"b{block}_pool")(x)
    return keras.Model(inputs, x, name="compact")

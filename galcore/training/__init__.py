"""Transfer learning: profiles, the Keras model, Zarr-to-tf.data input, Horovod and training.

Importing this package is cheap: TensorFlow and Horovod are imported by the functions that use
them, so that ``galcore --help`` and the dashboard start fast.
"""

from __future__ import annotations

from galcore.training._backbones import MIN_IMAGE_SIZE, STAGE_TRAINABLE_FROM
from galcore.training._config import (
    CONFIG_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    TrainConfig,
    TrainResult,
)
from galcore.training._data import (
    Examples,
    default_examples,
    evaluation_dataset,
    prediction_dataset,
    resize_images,
    training_dataset,
)
from galcore.training._horovod import Workers, init_workers, launched_by_horovod
from galcore.training._model import (
    FEATURES_LAYER,
    FEATURES_WIDTH,
    backbone_of,
    build_model,
    freeze_for_stage,
    mixed_precision_policy,
    weights_sha256,
)
from galcore.training._profiles import (
    BACKBONES,
    BATCH_NORM_MODES,
    N_STAGES,
    PRECISIONS,
    PROFILES,
    Augmentation,
    Profile,
    get_profile,
)
from galcore.training._train import train

__all__ = [
    "BACKBONES",
    "BATCH_NORM_MODES",
    "CONFIG_FILE",
    "FEATURES_LAYER",
    "FEATURES_WIDTH",
    "HISTORY_FILE",
    "MIN_IMAGE_SIZE",
    "MODEL_FILE",
    "N_STAGES",
    "PRECISIONS",
    "PROFILES",
    "STAGE_TRAINABLE_FROM",
    "Augmentation",
    "Examples",
    "Profile",
    "TrainConfig",
    "TrainResult",
    "Workers",
    "backbone_of",
    "build_model",
    "default_examples",
    "evaluation_dataset",
    "freeze_for_stage",
    "get_profile",
    "init_workers",
    "launched_by_horovod",
    "mixed_precision_policy",
    "prediction_dataset",
    "resize_images",
    "train",
    "training_dataset",
    "weights_sha256",
]

"""Training profiles: every number of the schedule, in one place per use case."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from galcore.errors import TrainingError

__all__ = [
    "BACKBONES",
    "BATCH_NORM_MODES",
    "N_STAGES",
    "PRECISIONS",
    "PROFILES",
    "Augmentation",
    "Profile",
    "get_profile",
]

BACKBONES: tuple[str, ...] = (
    "xception",
    "inceptionv3",
    "resnet50",
    "vgg16",
    "mobilenetv2",
    "compact",
)
"""Backbones `build_model` knows: the paper's Xception and the others of its Fig. 3 (from
``keras.applications``), and a small CNN for CPUs and tests."""

BATCH_NORM_MODES: tuple[str, ...] = ("inference", "batch", "group")
"""How the backbone normalises while it trains: batch normalisation with its moving statistics
always, or with each batch's statistics; or (the compact backbone only) group normalisation."""

N_STAGES = 3
"""Unfreezing stages: (1) backbone frozen, (2) its early layers frozen, (3) its first layers."""

PRECISIONS: tuple[str, ...] = ("float32", "mixed_float16", "mixed_bfloat16")
"""Keras dtype policies of the backbone: float32, or mixed precision (float16 for GPUs, bfloat16
for CPUs and TPUs that have it); the head computes in float32 always."""
"""Unfreezing stages: (1) backbone frozen, (2) its early layers frozen, (3) its first layers."""


@dataclass(frozen=True)
class Augmentation:
    """Random transformations of training batches (never of validation or inference batches).

    Parameters
    ----------
    flip
        Random horizontal and vertical flips.
    rotation_deg
        Largest rotation, in degrees, either way.
    shift
        Largest width and height shift, as a fraction of the image side.
    zoom
        Largest zoom in or out, as a fraction (0.3: from 0.7x to 1.3x), the same along both axes
        so that a galaxy's axis ratio (a morphology cue) is kept.
    interpolation
        Resampling of the rotation, shift and zoom: ``"nearest"`` keeps the pixel noise of the
        sky as unaugmented images have it. Bilinear resampling smooths it in every training
        image and never in a validation or test image, and the network then learns on images
        that it never sees in inference: validation accuracy swung from 0.98 to 0.62 between
        epochs while training accuracy stayed at 0.97 (``benchmarks/bench_batchnorm.py``).
    blur_px
        Survey quality: sigma, in model-input pixels, of an extra Gaussian blur that each
        image gets a random share of (0: none). With `noise`, it keeps a network trained on one
        survey's seeing and depth from taking them for morphology (``training._degrade``).
    noise
        Survey quality: largest standard deviation (0-255 scale) of the Gaussian noise added to
        each image, drawn per image (0: none).
    colour
        Survey quality: largest relative change of each band's brightness, drawn per image and
        band (0: none); the surveys' filters differ, and colour tells the classes apart only
        in part, so the network should not lean on it alone.
    degrade_fraction
        Share of the training images that get the blur, noise and colour change; the others
        stay clean, so
        that batch normalisation keeps the statistics of clean images.
    """

    flip: bool = True
    rotation_deg: float = 45.0
    shift: float = 0.3
    zoom: float = 0.3
    interpolation: str = "nearest"
    blur_px: float = 0.0
    noise: float = 0.0
    colour: float = 0.0
    degrade_fraction: float = 0.5

    def __post_init__(self) -> None:
        for name in ("rotation_deg", "shift", "zoom", "blur_px", "noise", "colour"):
            if getattr(self, name) < 0:
                msg = f"augmentation {name}={getattr(self, name)} must be >= 0"
                raise TrainingError(msg)
        if not 0 <= self.degrade_fraction <= 1:
            msg = f"augmentation degrade_fraction={self.degrade_fraction} must be in [0, 1]"
            raise TrainingError(msg)


@dataclass(frozen=True)
class Profile:
    """The values of one training schedule; `dataclasses.replace` makes a variant.

    Parameters
    ----------
    name
        Profile name, recorded with every run.
    backbone
        One of `BACKBONES`.
    weights
        Backbone weights: ``"imagenet"``, ``"none"`` (random) or the path of a local ``.h5`` file.
    image_size
        Side of the square model input in pixels; catalog images are resized to it.
    batch_size
        Batch size per worker.
    learning_rate
        Adam learning rate of one worker at the start of the run; Horovod multiplies it by the
        number of workers. One schedule runs across the stages: a stage starts at the rate the
        previous one ended with.
    dropout_rate
        Dropout between the two 1024-unit dense layers.
    epochs
        Most epochs of each of the `N_STAGES` stages (early stopping may end a stage sooner).
    patience
        Epochs without a better ``val_loss`` before a stage stops.
    reduce_lr_patience
        Epochs without a better training loss before the learning rate shrinks (as the paper).
    reduce_lr_factor
        Factor applied to the learning rate on a plateau.
    warmup_epochs
        Learning-rate warm-up epochs at the start of the run, with more than one worker.
    batch_norm
        One of `BATCH_NORM_MODES`: ``"inference"`` (the backbone's batch normalisation always
        uses its moving statistics, as Keras advises for fine-tuning a pretrained backbone),
        ``"batch"`` (unfrozen layers normalise each batch and learn their statistics, which a
        backbone trained from random weights needs) or ``"group"`` (the compact backbone
        normalises with group normalisation, which has no moving statistics, so that training
        and inference compute the same; ``bench_batchnorm.py`` compares the three).
    augmentation
        Random transformations of training batches.
    average_best
        The run ends with the mean of the weights of its this many epochs with the lowest
        validation loss (1: the best epoch's weights). Each stage starts from the best epoch's.
    shuffle_buffer
        Images in the shuffle buffer of each worker.
    preload_bytes
        A worker reads its shard into memory once when it is at most this large, else it streams
        the shard from the catalog chunk by chunk in every epoch.
    precision
        One of `PRECISIONS`: the backbone's Keras dtype policy.

    Raises
    ------
    TrainingError
        If a value is out of its range.
    """

    name: str
    backbone: str
    weights: str
    image_size: int
    batch_size: int
    learning_rate: float
    dropout_rate: float
    epochs: tuple[int, ...]
    patience: int
    reduce_lr_patience: int
    reduce_lr_factor: float
    warmup_epochs: int
    batch_norm: str = "inference"
    augmentation: Augmentation = field(default_factory=Augmentation)
    average_best: int = 1
    shuffle_buffer: int = 2048
    preload_bytes: int = 1 << 30
    precision: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "epochs", tuple(int(n) for n in self.epochs))
        if self.backbone not in BACKBONES:
            msg = f"backbone={self.backbone!r} is not known; use one of {', '.join(BACKBONES)}"
            raise TrainingError(msg)
        if self.batch_norm not in BATCH_NORM_MODES:
            msg = (
                f"batch_norm={self.batch_norm!r} is not known; use one of "
                f"{', '.join(BATCH_NORM_MODES)}"
            )
            raise TrainingError(msg)
        if self.precision not in PRECISIONS:
            msg = f"precision={self.precision!r} is not known; use one of {', '.join(PRECISIONS)}"
            raise TrainingError(msg)
        if len(self.epochs) != N_STAGES or min(self.epochs) < 0 or sum(self.epochs) == 0:
            msg = f"epochs={self.epochs} must be {N_STAGES} counts >= 0, at least one of them > 0"
            raise TrainingError(msg)
        for name in ("image_size", "batch_size", "shuffle_buffer", "learning_rate", "average_best"):
            if getattr(self, name) <= 0:
                msg = f"{name}={getattr(self, name)} must be > 0"
                raise TrainingError(msg)
        if not 0 <= self.dropout_rate < 1 or not 0 < self.reduce_lr_factor < 1:
            msg = (
                f"dropout_rate={self.dropout_rate} must be in [0, 1) and "
                f"reduce_lr_factor={self.reduce_lr_factor} in (0, 1)"
            )
            raise TrainingError(msg)

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Profile:
        """Return the profile `dataclasses.asdict` turned into `values` (e.g. a run's config)."""
        values = dict(values)
        values["augmentation"] = Augmentation(**values["augmentation"])
        values["epochs"] = tuple(values["epochs"])
        return cls(**values)


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        # Seconds on a laptop: the schedule's code paths on tiny images.
        "test": Profile(
            name="test",
            backbone="compact",
            weights="none",
            image_size=32,
            batch_size=8,
            learning_rate=1e-3,
            dropout_rate=0.5,
            epochs=(1, 1, 1),
            patience=2,
            reduce_lr_patience=1,
            reduce_lr_factor=0.5,
            warmup_epochs=2,
            batch_norm="batch",
            shuffle_buffer=4096,
        ),
        # Minutes on two CPU cores: ~2000 galaxies to a useful classifier.
        "demo": Profile(
            name="demo",
            backbone="compact",
            weights="none",
            image_size=64,
            batch_size=32,
            learning_rate=3e-4,
            dropout_rate=0.5,
            epochs=(2, 8, 16),
            patience=4,
            reduce_lr_patience=2,
            reduce_lr_factor=0.5,
            warmup_epochs=2,
            # Batch normalisation's moving statistics lagged behind the weights: validation
            # accuracy fell to 0.50-0.54 (chance) in single epochs of stage 2 of each of five
            # seeds, and the epoch kept as best could be a poor one (HP SDSS 88.9-96.9%).
            # Group normalisation computes the same in training and inference.
            batch_norm="group",
            # Small shifts and zooms: a galaxy 19 pixels off centre (0.3) next to a neighbour
            # leaves the network guessing which one is meant. No blur or noise: training on
            # both surveys' images of the same galaxies does that job (HP DES 88% -> 97%).
            # Band gains of up to 25% on half of the images: without them red spirals were
            # called elliptical and blue ellipticals spiral.
            augmentation=Augmentation(shift=0.1, zoom=0.15, colour=0.25),
            # The mean of the three best epochs' weights: HP SDSS +1.9 and +1.8 points over the
            # best epoch's alone for two seeds, HP DES +1.2 and +0.6.
            average_best=3,
            shuffle_buffer=4096,
        ),
        # The paper's transfer learning at a size two CPU cores train in under 30 minutes:
        # ImageNet Xception at 96 px (curate with --size 96), three stages, the paper's head
        # and dropout, the demo's augmentation.
        "transfer": Profile(
            name="transfer",
            backbone="xception",
            weights="imagenet",
            image_size=96,
            batch_size=32,
            learning_rate=1e-4,
            dropout_rate=0.7,
            epochs=(3, 5, 3),
            patience=4,
            reduce_lr_patience=2,
            reduce_lr_factor=0.5,
            warmup_epochs=2,
            augmentation=Augmentation(shift=0.1, zoom=0.15, colour=0.25),
            average_best=3,
            shuffle_buffer=4096,
        ),
        # Khan, Huerta et al.: ImageNet Xception fine-tuned in three stages, Horovod-ready.
        "paper": Profile(
            name="paper",
            backbone="xception",
            weights="imagenet",
            image_size=299,
            batch_size=16,
            learning_rate=1e-4,
            dropout_rate=0.7,
            epochs=(5, 10, 30),
            patience=5,
            reduce_lr_patience=2,
            reduce_lr_factor=0.5,
            warmup_epochs=2,
            shuffle_buffer=2048,
            preload_bytes=2 << 30,
        ),
    }
)
"""The named profiles: ``test`` (seconds), ``demo`` (minutes on a CPU), ``transfer`` (the
paper's method at 96 px, under 30 minutes on a CPU) and ``paper``."""


def get_profile(name: str) -> Profile:
    """Return the profile called `name`.

    Parameters
    ----------
    name
        One of the keys of `PROFILES`.

    Returns
    -------
    Profile
        The profile's values.

    Raises
    ------
    TrainingError
        If there is no profile of that name.
    """
    if name not in PROFILES:
        msg = f"profile={name!r} is not known; use one of {', '.join(PROFILES)}"
        raise TrainingError(msg)
    return PROFILES[name]

"""Training and inference speed of a profile's network, per unfreezing stage, on this machine.

Usage::

    python benchmarks/bench_model_speed.py [--profile paper] [--batch-sizes 16,64]
        [--steps 30] [--train-images 36620] [--precision float32,mixed_bfloat16]

Builds the profile's classifier with `galcore.training.build_model` (random weights: speed does
not depend on them), then for each stage freezes it as training does (`freeze_for_stage`),
compiles it with Adam and the categorical cross-entropy and times `train_on_batch` on one batch
of random images already in memory, after warm-up steps that compile the step. The input
pipeline is left out (``bench_input_pipeline.py`` measures it), so the figures are the network's
own: images per second, milliseconds per step, and the time one epoch of ``--train-images``
images would take (the paper's Table I training set: 36,620). Then it times `predict` on the
same batches (inference, the ``probs`` layer).

It runs with the Keras it finds: TensorFlow's Keras 2 as installed by ``./run.sh setup``, or
Keras 3 on any backend (``KERAS_BACKEND=jax``) on a machine with a GPU and no TensorFlow.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from galcore.training import N_STAGES, PROFILES, build_model, freeze_for_stage
from store import LABELS


def _time_steps(step: Callable[[], object], steps: int, warmup: int) -> float:
    """Seconds per call of `step` after `warmup` calls; each call returns a host value."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def _row(label: str, batch: int, seconds: float, train_images: int | None) -> str:
    epoch = "" if train_images is None else f"{train_images / batch * seconds / 60:10.1f}"
    speed = f"{seconds * 1e3:9.1f} | {batch / seconds:9.0f}"
    return f"| {label:<30} | {batch:5d} | {speed} | {epoch:>10} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper", choices=sorted(PROFILES))
    parser.add_argument("--backbone", help="override the profile's backbone")
    parser.add_argument("--batch-sizes", default="16,64")
    parser.add_argument("--inference-batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=36_620)
    parser.add_argument("--precision", default="float32", help="Keras dtype policies, by comma")
    args = parser.parse_args()

    import keras

    profile = PROFILES[args.profile]
    backbone = args.backbone or profile.backbone
    size = profile.image_size
    backend = keras.backend.backend() if hasattr(keras.backend, "backend") else "tensorflow"
    print(f"keras {keras.__version__} ({backend}), {backbone} at {size} px, profile {profile.name}")
    rng = np.random.default_rng(0)
    header = "| what                           | batch |   ms/step |  images/s | min/epoch  |"
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for policy in args.precision.split(","):
        keras.mixed_precision.set_global_policy(policy)
        model = build_model(
            len(LABELS),
            size,
            backbone=backbone,
            weights=None,
            dropout_rate=profile.dropout_rate,
            batch_norm=profile.batch_norm,
        )
        for batch in (int(value) for value in args.batch_sizes.split(",")):
            images = rng.integers(0, 256, (batch, size, size, 3)).astype("float32")
            labels = np.eye(len(LABELS), dtype="float32")[rng.integers(0, len(LABELS), batch)]
            for stage in range(1, N_STAGES + 1):
                freeze_for_stage(model, stage)
                model.compile(
                    optimizer=keras.optimizers.Adam(profile.learning_rate),
                    loss="categorical_crossentropy",
                    metrics=["accuracy"],
                )
                step = partial(model.train_on_batch, images, labels)
                seconds = _time_steps(step, args.steps, args.warmup)
                print(_row(f"train stage {stage}, {policy}", batch, seconds, args.train_images))
        batch = args.inference_batch
        images = rng.integers(0, 256, (batch, size, size, 3)).astype("float32")
        step = partial(model.predict_on_batch, images)
        seconds = _time_steps(step, max(3, args.steps // 3), args.warmup)
        print(_row(f"inference, {policy}", batch, seconds, None), flush=True)


if __name__ == "__main__":
    main()

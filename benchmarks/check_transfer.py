"""Check the paper's transfer learning on a pretrained Xception: weights, preprocessing, stages.

Usage::

    python benchmarks/check_transfer.py --weights xception_notop.h5 [--size 96] [--steps 3]

With an ImageNet weights file (Keras's no-top Xception), it checks what the paper's method
depends on and that no test with random weights can show:

1. **Loading and preprocessing.** `build_model(weights=FILE)` holds the file's weights, and its
   ``pool`` layer gives the same features as Keras's own ``Xception(weights=FILE)`` fed with
   ``keras.applications.xception.preprocess_input`` (the documented way), on the same images:
   training, validation and `galcore predict` all go through the model's ``scale`` layer.
2. **The stages.** For each unfreezing stage it freezes the model as training does
   (`freeze_for_stage`), trains a few steps on random images and compares every backbone
   layer with its weights before: stage 1 must change no backbone weight and no batch-norm
   statistic; stages 2 and 3 must change exactly the layers from the paper's first trainable
   layer on (index 40 and 2), and, since the backbone runs in inference mode
   (``batch_norm="inference"``), never a moving mean or variance.

It prints one row per check and exits with 1 if any fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from galcore.training import (
    STAGE_TRAINABLE_FROM,
    backbone_of,
    build_model,
    freeze_for_stage,
)
from store import LABELS

BACKBONE = "xception"
_MOVING = ("moving_mean", "moving_variance")


def _snapshot(base) -> dict[str, dict[str, np.ndarray]]:  # noqa: ANN001
    """Every backbone layer's weights by name, copied."""
    return {
        layer.name: {w.name.split("/")[-1]: w.numpy().copy() for w in layer.weights}
        for layer in base.layers
    }


def _changed(before, after) -> tuple[set[str], set[str]]:  # noqa: ANN001
    """Layers with any weight changed, and layers with a batch-norm statistic changed."""
    layers, statistics = set(), set()
    for name, weights in before.items():
        for key, value in weights.items():
            if not np.array_equal(value, after[name][key]):
                layers.add(name)
                if key.split(":")[0] in _MOVING:
                    statistics.add(name)
    return layers, statistics


def check_preprocessing(weights: Path, size: int, images: np.ndarray) -> list[tuple[str, bool]]:
    """Compare the model's pooled features with Keras's Xception on preprocess_input."""
    import keras

    model = build_model(len(LABELS), size, backbone=BACKBONE, weights=weights)
    reference = keras.applications.Xception(
        include_top=False, weights=str(weights), input_shape=(size, size, 3), pooling="avg"
    )
    ours = keras.Model(model.input, model.get_layer("pool").output).predict(images, verbose=0)
    keras_way = reference.predict(
        keras.applications.xception.preprocess_input(images.copy()), verbose=0
    )
    same_weights = all(
        np.array_equal(a, b)
        for a, b in zip(backbone_of(model).get_weights(), reference.get_weights(), strict=True)
    )
    difference = float(np.max(np.abs(ours - keras_way)))
    scale = float(np.max(np.abs(keras_way)))
    print(f"| loading | the file's weights in the backbone | {same_weights} |")
    close = difference <= 1e-4 * scale
    print(
        f"| preprocessing | pooled features vs Keras's Xception on preprocess_input: "
        f"max |diff| {difference:.2e} of {scale:.2f} | {close} |"
    )
    return [("weights", same_weights), ("preprocessing", close)]


def check_stages(weights: Path, size: int, steps: int, seed: int) -> list[tuple[str, bool]]:
    """Train each stage a few steps and compare which backbone layers changed."""
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(len(LABELS), size, backbone=BACKBONE, weights=weights)
    base = backbone_of(model)
    names = [layer.name for layer in base.layers]
    x = rng.uniform(0, 255, (16, size, size, 3)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, len(LABELS), 16), len(LABELS))
    results = []
    for stage, first in enumerate(STAGE_TRAINABLE_FROM[BACKBONE], start=1):
        freeze_for_stage(model, stage)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        before = _snapshot(base)
        head_before = model.get_layer("probs").get_weights()[0].copy()
        model.fit(x, y, batch_size=8, epochs=1, steps_per_epoch=steps, verbose=0)
        layers, statistics = _changed(before, _snapshot(base))
        start = len(names) if first is None else names.index(first)
        with_weights = {layer.name for layer in base.layers[start:] if layer.trainable_weights}
        head_trained = not np.array_equal(head_before, model.get_layer("probs").get_weights()[0])
        ok = layers == with_weights and not statistics and head_trained
        where = "none" if first is None else f"{start} ({first})"
        print(
            f"| stage {stage} | trains from layer {where}: {len(layers)} backbone layers changed"
            f" of {len(with_weights)} expected, {len(statistics)} with batch-norm statistics "
            f"changed, head trained {head_trained} | {ok} |"
        )
        results.append((f"stage {stage}", ok))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True, help="no-top Xception .h5 file")
    parser.add_argument("--size", type=int, default=96, help="input side in pixels (96)")
    parser.add_argument("--steps", type=int, default=3, help="training steps per stage (3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images = np.random.default_rng(args.seed).uniform(0, 255, (8, args.size, args.size, 3))
    print(f"Xception from {args.weights} at {args.size} px")
    print("| check | what | passed |")
    print("| --- | --- | --- |")
    results = check_preprocessing(args.weights, args.size, images.astype(np.float32))
    results += check_stages(args.weights, args.size, args.steps, args.seed)
    failed = [name for name, ok in results if not ok]
    print("all checks passed" if not failed else f"failed: {', '.join(failed)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

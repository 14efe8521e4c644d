"""Survey-quality augmentation: random extra blur, noise and band brightness per image.

A network trained on the images of one survey learns its seeing and noise along with the
galaxies. On the demo sky, models trained on SDSS cutouts called sharp, quiet DES ellipticals
spirals; the same DES images with SDSS's noise added were classified better, blurred alone much
worse. Varying blur and noise in training teaches the network to ignore both. Varying the bands'
brightness (the surveys' filters and calibrations differ) keeps it from leaning on colour alone,
which tells the classes apart only in part.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["degrader"]


def _gaussian_kernel(sigma_px: float, channels: int) -> tf.Tensor:
    """Return a normalised 2-D Gaussian as a depthwise kernel (k, k, channels, 1)."""
    import tensorflow as tf

    half = max(1, math.ceil(3 * sigma_px))
    x = tf.range(-half, half + 1, dtype=tf.float32)
    profile = tf.exp(-0.5 * (x / sigma_px) ** 2)
    kernel = tf.tensordot(profile, profile, axes=0)
    kernel = kernel / tf.reduce_sum(kernel)
    return tf.tile(kernel[:, :, None, None], (1, 1, channels, 1))


def degrader(
    blur_px: float, noise: float, *, colour: float = 0.0, fraction: float = 1.0, seed: int
) -> Callable[[tf.Tensor], tf.Tensor]:
    """Return ``degrade(images)``: a random share of blur, random noise and band gains per image.

    A random `fraction` of the images is degraded, the others are left as they are: batch
    normalisation then learns statistics close to those of the clean images it is validated
    and used on (degrading every image made validation accuracy swing between epochs). A
    degraded image is mixed with a copy blurred by a Gaussian of `blur_px` pixels (weight
    uniform in [0, 1], so from no blur to all of it), then gets Gaussian noise of a standard
    deviation uniform in [0, `noise`] (on the 0-255 scale), has each band multiplied by a gain
    uniform in [1 - `colour`, 1 + `colour`], and is clipped to [0, 255].

    Parameters
    ----------
    blur_px
        Sigma of the extra blur, in model-input pixels; 0 for none.
    noise
        Largest standard deviation of the added noise; 0 for none.
    colour
        Largest relative change of one band's brightness; 0 for none.
    fraction
        Share of the images degraded, in [0, 1].
    seed
        Seed of the random draws.

    Returns
    -------
    Callable
        A function of float32 image batches (N, S, S, C) in [0, 255].
    """
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)

    def degrade(images: tf.Tensor) -> tf.Tensor:
        if blur_px == 0 and noise == 0 and colour == 0:
            return images
        n = tf.shape(images)[0]
        chosen = tf.cast(generator.uniform((n, 1, 1, 1)) < fraction, tf.float32)
        if blur_px > 0:
            kernel = _gaussian_kernel(blur_px, images.shape[-1])
            padded = tf.pad(images, _padding(kernel), mode="REFLECT")
            blurred = tf.nn.depthwise_conv2d(padded, kernel, (1, 1, 1, 1), "VALID")
            share = chosen * generator.uniform((n, 1, 1, 1))
            images = images + share * (blurred - images)
        if noise > 0:
            sigma = chosen * generator.uniform((n, 1, 1, 1), maxval=noise)
            images = images + sigma * generator.normal(tf.shape(images))
        if colour > 0:
            gains = generator.uniform((n, 1, 1, images.shape[-1]), -colour, colour)
            images = images * (1.0 + chosen * gains)
        return tf.clip_by_value(images, 0.0, 255.0)

    return degrade


def _padding(kernel: tf.Tensor) -> list[list[int]]:
    """Reflection padding that keeps the image size under a 'VALID' convolution with `kernel`."""
    half = int(kernel.shape[0]) // 2
    return [[0, 0], [half, half], [half, half], [0, 0]]

"""Survey-quality augmentation: random blur and noise per training image."""

from __future__ import annotations

import numpy as np
import pytest

from galcore.errors import TrainingError
from galcore.training import Augmentation, Examples, training_dataset
from galcore.training._degrade import degrader

tf = pytest.importorskip("tensorflow")


def _noise_field(n: int = 64, size: int = 32) -> np.ndarray:
    """Images of pure pixel noise around mid-grey, whose std blur lowers and noise raises."""
    rng = np.random.default_rng(0)
    return np.clip(128 + 20 * rng.standard_normal((n, size, size, 3)), 0, 255).astype(np.float32)


def _pixel_std(images) -> np.ndarray:
    return np.asarray(images).std(axis=(1, 2, 3))


def test_nothing_asked_changes_nothing():
    images = _noise_field()
    np.testing.assert_array_equal(degrader(0.0, 0.0, seed=1)(tf.constant(images)), images)


def test_blur_smooths_each_image_by_its_own_share():
    images = _noise_field()
    std = _pixel_std(degrader(1.0, 0.0, seed=1)(tf.constant(images)))
    before = _pixel_std(images)
    assert np.all(std <= before + 1e-3)
    # Shares are uniform in [0, 1]: some images keep nearly all their noise, some lose most.
    assert std.min() < 0.5 * before.mean() < 0.9 * before.mean() < std.max()


def test_noise_is_added_up_to_its_largest_std():
    flat = np.full((256, 32, 32, 3), 128.0, dtype=np.float32)
    std = _pixel_std(degrader(0.0, 20.0, seed=1)(tf.constant(flat)))
    assert std.max() <= 20.0 * 1.05
    assert std.min() < 2.0
    assert np.median(std) == pytest.approx(10.0, abs=2.0)  # uniform in [0, 20]


def test_a_fraction_of_the_images_stays_clean():
    images = _noise_field(n=400, size=8)
    out = degrader(1.0, 20.0, fraction=0.5, seed=3)(tf.constant(images)).numpy()
    clean = np.all(out == images, axis=(1, 2, 3))
    assert 0.4 < clean.mean() < 0.6
    none = degrader(1.0, 20.0, fraction=0.0, seed=3)(tf.constant(images)).numpy()
    np.testing.assert_array_equal(none, images)


def test_pixels_stay_in_range_and_draws_follow_the_seed():
    images = np.zeros((8, 16, 16, 3), dtype=np.float32)
    images[:, ::2] = 255.0
    first = degrader(1.0, 50.0, seed=7)(tf.constant(images)).numpy()
    again = degrader(1.0, 50.0, seed=7)(tf.constant(images)).numpy()
    other = degrader(1.0, 50.0, seed=8)(tf.constant(images)).numpy()
    assert first.min() >= 0.0
    assert first.max() <= 255.0
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_the_size_is_kept():
    images = _noise_field(n=3, size=21)
    assert degrader(2.5, 5.0, seed=0)(tf.constant(images)).shape == images.shape


def test_training_batches_are_degraded_validation_is_not(toy_workspace):
    catalog = toy_workspace.catalog(mode="r")
    examples = Examples(np.arange(8), np.zeros(8, dtype=int))
    still = Augmentation(flip=False, rotation_deg=0, shift=0, zoom=0)
    options = {"image_size": 32, "batch_size": 8, "seed": 0, "shuffle_buffer": 8}
    options["preload_bytes"] = 1 << 20
    plain, _ = next(iter(training_dataset(catalog, examples, augmentation=still, **options)))
    noisy = Augmentation(flip=False, rotation_deg=0, shift=0, zoom=0, noise=30.0)
    degraded, _ = next(iter(training_dataset(catalog, examples, augmentation=noisy, **options)))
    assert not np.array_equal(np.sort(plain, axis=None), np.sort(degraded, axis=None))


@pytest.mark.parametrize("field", ["blur_px", "noise", "zoom"])
def test_negative_amounts_are_refused(field):
    with pytest.raises(TrainingError, match=f"augmentation {field}=-1 must be >= 0"):
        Augmentation(**{field: -1})


def test_the_fraction_is_a_share():
    with pytest.raises(TrainingError, match=r"degrade_fraction=1.5 must be in \[0, 1\]"):
        Augmentation(degrade_fraction=1.5)


def test_colour_changes_each_band_by_its_own_gain():
    flat = np.full((256, 8, 8, 3), 100.0, dtype=np.float32)
    out = degrader(0.0, 0.0, colour=0.2, seed=2)(tf.constant(flat)).numpy()
    gains = out[:, 0, 0, :] / 100.0
    assert np.all(np.abs(gains - 1.0) <= 0.2 + 1e-6)
    assert np.allclose(out, out[:, :1, :1, :])  # one gain per image and band
    assert np.std(gains[:, 0] - gains[:, 2]) > 0.1  # the bands change independently

"""The corruption suite (mnist_pipeline/robustness/): every corruption is a plain function of (images, Generator),
deterministic for a seed, shaped and valued like its input, visibly different from it, and label-preserving:
the model the suite trains on real MNIST (conftest `model`: the fast recipe, no augmentation) still reads
most corrupted digits of a sample.

Reads 100 real MNIST test digits (conftest `digits`; skipped without ../shared/data/mnist). The label tests
need that model, made once per session by a whole pipeline run on the real files (slow).
"""
import numpy as np
import pytest

from conftest import REAL_MNIST, REAL_MNIST_GROUP
from mnist_pipeline.robustness.results import summary
from mnist_pipeline.robustness.suite import CORRUPTIONS, IN_KIND, corrupt, in_training, seeded_subset
from mnist_pipeline.schema import Augment

pytestmark = pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"MNIST files not found in {REAL_MNIST}")

# Corruptions without randomness: the same output for every seed.
FIXED = {"scale", "brightness", "stripe", "canny_edges"}
# Least accuracy of the fast-recipe model on the 100 corrupted digits, 8-20 points under what was measured
# (2026-12-02, clean 1.00: shot noise 0.99, impulse 0.85, glass 0.96, motion 0.87, shear 0.96, scale 0.93,
# rotate 0.89, brightness 0.51, translate 0.52, stripe 0.82, fog 0.21, spatter 0.96, dotted line 1.00,
# zigzag 0.68, Canny 0.78). Brightness and fog keep the digit but fool a network that only ever saw black
# backgrounds; the top-hat test below shows their digits are still there.
MIN_ACCURACY = {"shot_noise": 0.9, "impulse_noise": 0.75, "glass_blur": 0.85, "motion_blur": 0.75, "shear": 0.85,
                "scale": 0.8, "rotate": 0.75, "brightness": 0.3, "translate": 0.35, "stripe": 0.65, "fog": 0.08,
                "spatter": 0.85, "dotted_line": 0.9, "zigzag": 0.5, "canny_edges": 0.65}
# Least accuracy after a white top-hat (each image minus its grey opening: the background goes, the strokes
# stay) stretched to [0, 1]. Measured: 1.00 and 0.64.
MIN_TOP_HAT_ACCURACY = {"brightness": 0.95, "fog": 0.55}


@pytest.fixture(scope="module")
def clean(digits):
    images, labels = digits
    return images.astype(np.float32) / 255, labels


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_is_deterministic_shaped_and_visible(name, clean):
    images, _ = clean
    before = images.copy()
    out = corrupt(name, images, seed=3)
    assert np.array_equal(images, before)  # the input is left alone
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert np.array_equal(out, corrupt(name, images, seed=3))
    assert np.array_equal(out, corrupt(name, images, seed=4)) == (name in FIXED)
    changed = np.abs(out - images).mean(axis=(1, 2))
    assert changed.min() > 0.005, f"{name} leaves an image almost as it was"


def predicted(model, images):
    from mnist_pipeline.model import predict_probabilities
    return predict_probabilities(model, images[..., np.newaxis], 100).argmax(axis=1)


@pytest.mark.slow
@REAL_MNIST_GROUP
def test_corrupted_digits_keep_their_labels(model, clean):
    images, labels = clean
    assert np.mean(predicted(model, images) == labels) >= 0.97
    accuracy = {name: float(np.mean(predicted(model, corrupt(name, images, seed=0)) == labels))
                for name in CORRUPTIONS}
    low = {name: value for name, value in accuracy.items() if value < MIN_ACCURACY[name]}
    assert not low, f"under the bound: {low}; all: {accuracy}"


def top_hat(images, size=7):
    """Each image's white top-hat (itself minus its grey opening by a size x size square), stretched to [0, 1]."""
    from scipy import ndimage as ndi
    strokes = ndi.white_tophat(images, size=(1, size, size))
    low, high = strokes.min(axis=(1, 2), keepdims=True), strokes.max(axis=(1, 2), keepdims=True)
    return ((strokes - low) / np.maximum(high - low, 1e-6)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("name", MIN_TOP_HAT_ACCURACY)
@REAL_MNIST_GROUP
def test_faded_digits_are_still_there(name, model, clean):
    images, labels = clean
    accuracy = np.mean(predicted(model, top_hat(corrupt(name, images, seed=0))) == labels)
    assert accuracy >= MIN_TOP_HAT_ACCURACY[name], accuracy


def test_subset_is_seeded_sorted_and_capped():
    chosen = seeded_subset(50, 20, seed=1)
    assert np.array_equal(chosen, seeded_subset(50, 20, seed=1))
    assert not np.array_equal(chosen, seeded_subset(50, 20, seed=2))
    assert len(set(chosen)) == 20 and np.all(np.diff(chosen) > 0) and chosen.max() < 50
    assert np.array_equal(seeded_subset(8, 20, seed=1), np.arange(8))


def test_in_training_names_the_corruptions_of_the_augmentation_in_use():
    assert in_training(Augment(rotation_deg=0, zoom=0, shift_px=0)) == {}
    assert in_training(Augment(rotation_deg=8, zoom=0, shift_px=2, stroke=1, lines=1, noise=0.1)) == {
        "rotate": "train.augment.rotation_deg", "translate": "train.augment.shift_px",
        "dotted_line": "train.augment.lines", "zigzag": "train.augment.lines",
        "shot_noise": "train.augment.noise", "impulse_noise": "train.augment.noise"}
    assert {name for names in IN_KIND.values() for name in names} < set(CORRUPTIONS)
    assert set(IN_KIND) == set(Augment.model_fields)


def test_summary_headline_leaves_out_the_augmented_corruptions():
    labels = np.arange(10) % 10
    excluded = in_training(Augment(rotation_deg=8, zoom=0.1, shift_px=2))
    wrong_in = {name: labels if name in excluded else (labels + (i % 3 == 0)) % 10
                for i, name in enumerate(CORRUPTIONS)}
    results = summary(0, labels, labels, wrong_in, excluded, labels[:4], labels[:4],
                      {"a": labels[:4], "b": labels[:4] + 1},
                      {"a": np.ones(4, bool), "b": np.array([True, False, True, True])})
    scores = results["corruptions"]
    unseen = [scores[name] for name in CORRUPTIONS if name not in excluded]
    assert results["headline_excludes"] == excluded and set(excluded) == {"rotate", "scale", "translate"}
    assert results["headline_mean_accuracy"] == pytest.approx(np.mean(unseen))
    assert results["corruption_mean_accuracy"] == pytest.approx(np.mean(list(scores.values())))
    assert results["headline_mean_accuracy"] < results["corruption_mean_accuracy"] < 1
    assert results["styles"] == {"a": 1.0, "b": 0.0} and results["style_unreadable"] == {"a": 0, "b": 1}
    assert results["clean_accuracy"] == 1.0 and results["images"] == 10 and results["style_images"] == 4

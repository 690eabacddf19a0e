"""Tests the two readings of a picture (predict/readings.py, framing.frame_readings): as step 6 adjusted its
strokes and as drawn, and how their probabilities are averaged.

Draws synthetic rings and bars and reads real MNIST test digits (conftest's `digits`; that test is skipped
without them); a stand-in classifier replaces the model. Writes previews only under pytest's tmp_path.
"""
import numpy as np
import pytest
from PIL import Image

from conftest import REAL_MNIST
from mnist_pipeline.predict import styles
from mnist_pipeline.predict.framing import frame, frame_binary, frame_readings
from mnist_pipeline.predict.output import PREVIEW_SIZE, save_preprocessed
from mnist_pipeline.predict.prepare import prepare_image, prepare_readings
from mnist_pipeline.predict.readings import reading_probabilities


def bar(stroke):
    """A binary upright bar 80 px tall and `stroke` px wide, cropped to its ink (step 6's scale: 80 px)."""
    return np.ones((80, stroke), dtype=bool)


@pytest.mark.parametrize("stroke, change", [(3, "thickened"), (10, None), (30, "thinned")])
def test_second_reading_is_the_digit_as_drawn(stroke, change):
    """The first reading is frame_binary's input; the second is the same digit framed with its strokes as they
    were: equal where step 6 leaves the width alone (10 px of 80: within MNIST's band), thinner or bolder where
    it changed it."""
    binary = bar(stroke)
    readings = frame_readings(binary)
    assert readings.shape == (2, 28, 28) and readings.dtype == np.float32
    np.testing.assert_array_equal(readings[0], frame_binary(binary))
    np.testing.assert_array_equal(readings[1], frame(binary))
    widths = [(reading > 0.5).sum(axis=1).max() for reading in readings]
    assert {None: widths[0] == widths[1], "thickened": widths[0] > widths[1],
            "thinned": widths[0] < widths[1]}[change]


def test_readings_of_a_picture_begin_with_prepare_image():
    """prepare_readings reads a bold ring on paper (a stroke a third of its radius) as prepare_image does first,
    then as drawn: bolder, around the same hole."""
    size, centre = 100, 49.5
    ys, xs = np.mgrid[0:size, 0:size]
    radius = np.hypot(ys - centre, xs - centre)
    picture = Image.fromarray(np.where((radius <= 30) & (radius >= 10), 20, 235).astype(np.uint8))
    readings = prepare_readings(picture)
    np.testing.assert_array_equal(readings[0], prepare_image(picture))
    assert readings[1].sum() > 1.2 * readings[0].sum()
    assert readings[0][14, 14] < 0.1 and readings[1][14, 14] < 0.1  # the hole stays a hole


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"MNIST files not found in {REAL_MNIST}")
def test_most_mnist_digits_are_read_once(digits):
    """MNIST's own digits lie within step 6's band (its 5th-95th percentile of stroke width) about 90% of the
    time: their two readings are equal, so they are classified once, exactly as before."""
    style = next(s for s in styles.STYLES if s.name == "mnist_28x28")
    rng = np.random.default_rng(0)
    equal = [np.array_equal(*prepare_readings(style.render(image, rng))) for image in digits[0][:100]]
    assert 0.8 <= np.mean(equal) <= 0.97


def counting_classifier(calls):
    """A stand-in model: probabilities that depend on the ink's mass (class 0 for faint ink, 9 for heavy ink);
    appends the size of every batch it classifies to `calls`."""
    def classify(batch):
        calls.append(len(batch))
        mass = batch.reshape(len(batch), -1).mean(axis=1)
        logits = -np.square(np.arange(10)[np.newaxis] - 40 * mass[:, np.newaxis])
        return (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    return classify


def test_probabilities_average_the_readings_that_differ():
    """Pictures whose readings differ get the mean of both readings' probabilities; the others get the first
    reading's, and only the differing ones are classified a second time."""
    rng = np.random.default_rng(0)
    first = rng.random((5, 28, 28), dtype=np.float32) * 0.3
    second = first.copy()
    second[[1, 3]] = np.minimum(first[[1, 3]] * 1.5, 1)
    calls = []
    classify = counting_classifier(calls)
    probabilities = reading_probabilities(classify, np.stack([first, second], axis=1), batch_size=4)
    alone, drawn = classify(first[..., np.newaxis]), classify(second[..., np.newaxis])
    np.testing.assert_allclose(probabilities[[0, 2, 4]], alone[[0, 2, 4]], rtol=0, atol=1e-7)
    np.testing.assert_allclose(probabilities[[1, 3]], (alone[[1, 3]] + drawn[[1, 3]]) / 2, rtol=0, atol=1e-7)
    assert not np.allclose(probabilities[[1, 3]], alone[[1, 3]], atol=1e-3)
    assert calls[:3] == [4, 1, 2]  # the five first readings in batches of 4, then the two that differ
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)


def test_preview_shows_the_reading_as_drawn_where_it_differs(tmp_path):
    """--save-preprocessed writes the adjusted reading as <stem>_28x28.png; its preview shows the original beside
    it and, where step 6 changed the strokes, beside the digit as drawn as well (a third panel)."""
    original = Image.new("L", (PREVIEW_SIZE, PREVIEW_SIZE), 255)
    readings = frame_readings(bar(30))
    assert save_preprocessed(tmp_path, "bold", original, readings) == "bold"
    assert save_preprocessed(tmp_path, "plain", original, readings[[0, 0]]) == "plain"
    saved = np.asarray(Image.open(tmp_path / "bold_28x28.png"))
    np.testing.assert_array_equal(saved, np.round(readings[0] * 255).astype(np.uint8))
    bold, plain = (Image.open(tmp_path / f"{name}_preview.png") for name in ("bold", "plain"))
    assert plain.size == (2 * PREVIEW_SIZE + 8, PREVIEW_SIZE) and bold.size == (3 * PREVIEW_SIZE + 16, PREVIEW_SIZE)
    drawn_panel = np.asarray(bold.convert("L"))[::8, 2 * PREVIEW_SIZE + 16::8]
    np.testing.assert_array_equal(drawn_panel, np.round(readings[1] * 255).astype(np.uint8))

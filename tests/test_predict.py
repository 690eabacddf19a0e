"""Tests the picture reader (mnist_pipeline/predict/) on real MNIST digits drawn as everyday pictures.

Reads the MNIST IDX files in ../shared/data/mnist (the tests skip without them). The tests marked
slow train a small CNN once per session on the real training set (about 30 s on two cores, saved
in a pytest tmp folder) and classify 100 digits per style (about 3 minutes in all); rendered
pictures, broken files and the CLI's outputs are written to tmp folders.
"""
import numpy as np
import pytest
from PIL import Image

from conftest import PREDICT_SAMPLE_SIZE, REAL_MNIST, REAL_MNIST_GROUP, encoded
from mnist_pipeline.predict import cli, drawing, styles
from mnist_pipeline.predict.decode import load_image
from mnist_pipeline.predict.prepare import prepare_image
from mnist_pipeline.predict.readings import reading_probabilities

pytestmark = pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"MNIST files not found in {REAL_MNIST}")

MIN_STYLE_ACCURACY = 0.95  # per style, on the same 100 random MNIST test digits (measured: 0.96-0.99)


def classify(model, paths):
    """Predicted digits for image files, through predict.py's own functions; fails on any file error."""
    problems = []
    kept, readings = cli.prepare_all(paths, lambda path, problem: problems.append(f"{path}: {problem}"))
    assert not problems
    return reading_probabilities(model.predict_on_batch, readings, cli.BATCH_SIZE).argmax(axis=1)



# --- preprocessing on its own

def test_prepared_mnist_digit_stays_mnist(digits):
    """An original 28x28 MNIST digit comes back nearly unchanged: MNIST's own normalisation."""
    images, _ = digits
    prepared = np.array([prepare_image(Image.fromarray(image)) for image in images])
    assert prepared.shape == (PREDICT_SAMPLE_SIZE, 28, 28) and prepared.dtype == np.float32
    assert prepared.min() >= 0 and np.allclose(prepared.max(axis=(1, 2)), 1.0)
    correlation = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(prepared, images)]
    assert np.median(correlation) > 0.9 and np.mean(correlation) > 0.85  # measured: 0.97 and 0.93
    rows, cols = np.mgrid[0:28, 0:28]
    centres = [((p * rows).sum() / p.sum(), (p * cols).sum() / p.sum()) for p in prepared]
    assert np.allclose(centres, 14, atol=0.75)  # centre of mass on the centre pixel, as in MNIST


@pytest.mark.parametrize("style", ["chalkboard", "rgba_light_ink", "screen_webp", "paper_photo"])
def test_prepared_rendering_resembles_the_original(style, digits, tmp_path):
    """A digit drawn large on a background comes back close to MNIST's 28x28 version of it."""
    images, _ = digits
    chosen = next(s for s in styles.STYLES if s.name == style)
    rng = np.random.default_rng(1)
    correlation = [np.corrcoef(prepare_image(load_image(styles.write_rendering(
        chosen, image, rng, tmp_path / str(i)))).ravel(), image.ravel())[0, 1] for i, image in enumerate(images[:30])]
    # Natural strokes keep MNIST's own shapes (measured 0.89-0.92); pen strokes are redrawn (0.79).
    assert np.mean(correlation) > (0.7 if style == "paper_photo" else 0.8)


def test_transparency_and_orientation_are_honoured(digits, tmp_path):
    """Palette transparency is composited like RGBA, and load_image applies the EXIF orientation tag."""
    image = digits[0][0]
    strokes = drawing.natural_strokes(image, 200)
    upright = prepare_image(drawing.ink(np.ones(strokes.shape + (3,)), strokes, drawing.PEN))
    palette = Image.frombytes("P", strokes.shape[::-1], (strokes > 0.5).astype(np.uint8).tobytes())
    palette.putpalette([0] * 768)  # background and ink are both black: only transparency tells them apart
    palette.info["transparency"] = 0
    assert np.corrcoef(prepare_image(palette).ravel(), upright.ravel())[0, 1] > 0.9
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    sideways = tmp_path / "sideways.jpg"
    sideways.write_bytes(encoded(drawing.ink(np.ones(strokes.shape + (3,)), strokes, drawing.PEN)
                                 .transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif))
    assert np.corrcoef(prepare_image(load_image(sideways)).ravel(), upright.ravel())[0, 1] > 0.9


def test_ruled_paper_lines_are_not_ink(digits):
    """Squared-paper lines crossing the digit are removed: the result matches the same digit on plain paper."""
    image = digits[0][0]
    strokes = drawing.pen_strokes(image, 240, 10)
    shape = (strokes.shape[0] + 120, strokes.shape[1] + 120)
    placed = np.zeros(shape, dtype=np.float32)
    placed[60:60 + strokes.shape[0], 60:60 + strokes.shape[1]] = strokes
    grid = np.zeros(shape, dtype=np.float32)
    grid[5::40, :] = grid[6::40, :] = grid[:, 5::40] = grid[:, 6::40] = 1  # 2 px lines every 40 px
    plain = prepare_image(drawing.ink(np.ones(shape + (3,)), placed, drawing.BLUE_PEN))
    squared = drawing.ink(np.ones(shape + (3,)) * (1 - 0.6 * grid[..., None]), placed, drawing.BLUE_PEN)
    # measured 0.99; keeping the lines as ink gives about 0.35
    assert np.corrcoef(prepare_image(squared).ravel(), plain.ravel())[0, 1] > 0.9


# --- accuracy per style

@pytest.mark.slow
@pytest.mark.parametrize("style", styles.STYLES, ids=[s.name for s in styles.STYLES])
@REAL_MNIST_GROUP
def test_style_is_classified(style, digits, model, tmp_path):
    """100 real MNIST digits drawn in each style and saved in its file format are recognised."""
    images, labels = digits
    rng = np.random.default_rng(1)
    paths = [styles.write_rendering(style, image, rng, tmp_path / f"{i:03d}") for i, image in enumerate(images)]
    accuracy = float(np.mean(classify(model, paths) == labels))
    assert accuracy >= MIN_STYLE_ACCURACY, f"{style.name}: {accuracy:.0%} of {PREDICT_SAMPLE_SIZE} digits recognised"


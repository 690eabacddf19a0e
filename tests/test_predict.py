"""Tests predict.py and mnist_pipeline/predict/ on real MNIST digits drawn as everyday pictures.

Reads the MNIST IDX files in ../shared/data/mnist (the tests skip without them). The tests marked
slow train a small CNN once per session on the real training set (about 30 s on two cores, saved
in a pytest tmp folder) and classify 100 digits per style (about 3 minutes in all); rendered
pictures, broken files and the CLI's outputs are written to tmp folders.
"""
import csv
import io
import json
import struct
import sys
import zlib

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REAL_MNIST, ROOT, run
from mnist_pipeline.predict import cli, decode, drawing, styles
from mnist_pipeline.predict.decode import ImageError, load_image
from mnist_pipeline.predict.prepare import prepare_image

pytestmark = pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"MNIST files not found in {REAL_MNIST}")

SAMPLE_SIZE = 100
MIN_STYLE_ACCURACY = 0.95  # per style, on the same 100 random MNIST test digits (measured: 0.96-0.99)


@pytest.fixture(scope="session")
def digits():
    """(images, labels) of 100 random MNIST test digits, the same for every style."""
    return styles.sample_digits(REAL_MNIST, SAMPLE_SIZE, seed=7)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """A small CNN (conv32-pool-conv64-pool-dropout-dense10) trained for 2 epochs on the 60,000 real
    MNIST training digits, saved as .keras (about 98% test accuracy)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    images, labels = styles.load_mnist(REAL_MNIST, "train")
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(images[..., np.newaxis] / np.float32(255), labels, batch_size=128, epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("model") / "small_cnn.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def model(model_file):
    """The small CNN, loaded the way predict.py loads a model."""
    from mnist_pipeline.model import load_model
    return load_model(model_file)


def classify(model, paths):
    """Predicted digits for image files, through predict.py's own functions; fails on any file error."""
    from mnist_pipeline.model import predict_probabilities
    problems = []
    kept, inputs = cli.prepare_all(paths, lambda path, problem: problems.append(f"{path}: {problem}"))
    assert not problems
    return predict_probabilities(model, inputs[..., np.newaxis], cli.BATCH_SIZE).argmax(axis=1)


def write_png_header(path, width, height, data=b""):
    """Writes a PNG whose header claims width x height pixels, followed by `data` as its only IDAT chunk."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def _bmp_with_compression(code):
    """A small BMP whose header names an unknown compression method."""
    data = bytearray(encoded(Image.new("L", (8, 8), 255), "BMP"))
    data[30:34] = struct.pack("<I", code)
    return bytes(data)


def encoded(image, fmt, **options):
    """The bytes of `image` saved in format `fmt`."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


# --- preprocessing on its own

def test_prepared_mnist_digit_stays_mnist(digits):
    """An original 28x28 MNIST digit comes back nearly unchanged: MNIST's own normalisation."""
    images, _ = digits
    prepared = np.array([prepare_image(Image.fromarray(image)) for image in images])
    assert prepared.shape == (SAMPLE_SIZE, 28, 28) and prepared.dtype == np.float32
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
def test_style_is_classified(style, digits, model, tmp_path):
    """100 real MNIST digits drawn in each style and saved in its file format are recognised."""
    images, labels = digits
    rng = np.random.default_rng(1)
    paths = [styles.write_rendering(style, image, rng, tmp_path / f"{i:03d}") for i, image in enumerate(images)]
    accuracy = float(np.mean(classify(model, paths) == labels))
    assert accuracy >= MIN_STYLE_ACCURACY, f"{style.name}: {accuracy:.0%} of {SAMPLE_SIZE} digits recognised"


# --- bad input

def bad_files(folder):
    """{path: the exact problem load_image must report} for every kind of unusable file."""
    good_png = encoded(Image.new("L", (120, 90), 255), "PNG")
    good_jpeg = encoded(Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 120), dtype=np.uint8)), "JPEG")
    (folder / "notes.png").write_text("not an image, just text\n")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "cut.png").write_bytes(good_png[:len(good_png) // 2])
    (folder / "cut.jpg").write_bytes(good_jpeg[:len(good_jpeg) // 2])
    (folder / "odd.bmp").write_bytes(_bmp_with_compression(123))
    write_png_header(folder / "zero.png", 0, 10)
    write_png_header(folder / "bomb.png", 100_000, 100_000)
    write_png_header(folder / "huge.png", 8000, 6000)
    return {
        folder / "notes.png": "not an image or an unsupported format (expected PNG, JPEG, BMP, GIF, WebP or TIFF)",
        folder / "empty.jpg": "is empty",
        folder / "cut.png": "truncated or corrupt image data",
        folder / "cut.jpg": "truncated or corrupt image data",
        folder / "odd.bmp": "corrupt or unsupported image header",
        folder / "zero.png": "zero-sized image (0x10 pixels)",
        folder / "bomb.png": "image too large (over 40 megapixels, a possible decompression bomb)",
        folder / "huge.png": "image too large (8000x6000 pixels; the limit is 40 megapixels)",
        folder / "missing.png": "not found",
    }


def blank_files(folder):
    """{path: problem} for readable images without a digit: white, and textured paper with a shadow."""
    rng = np.random.default_rng(0)
    Image.new("RGB", (200, 150), "white").save(folder / "white.png")
    drawing.ink(drawing.paper((300, 240), rng), np.zeros((300, 240)), drawing.PEN,
                   light=drawing.shadow((300, 240), rng)).save(folder / "paper.jpg")
    return {folder / "white.png": "no ink found (blank image)", folder / "paper.jpg": "no ink found (blank image)"}


def test_bad_files_raise_one_line_errors(tmp_path):
    for path, problem in bad_files(tmp_path).items():
        with pytest.raises(ImageError) as caught:
            load_image(path)
        assert (caught.value.problem, str(caught.value)) == (problem, f"{path}: {problem}")
    for path, problem in blank_files(tmp_path).items():
        with pytest.raises(ImageError, match=r"^no ink found \(blank image\)$"):
            prepare_image(load_image(path))


def test_pixel_limit_applies(tmp_path, monkeypatch):
    path = tmp_path / "small.png"
    Image.new("L", (100, 100), 255).save(path)
    monkeypatch.setattr(decode, "MAX_PIXELS", 5000)
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert str(caught.value) == f"{path}: image too large (100x100 pixels; the limit is 0.005 megapixels)"


def test_zero_sized_image_object():
    with pytest.raises(ImageError, match=r"^zero-sized image \(0x0 pixels\)$"):
        prepare_image(Image.new("RGB", (0, 0)))


def test_folders_are_searched_recursively_and_sorted(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    for name in ["b/deep/3.PNG", "b/2.jpg", "a.webp", "notes.txt", "b/1.tiff"]:
        (tmp_path / name).write_bytes(b"x")
    problems = []
    found = cli.collect_images([tmp_path, tmp_path / "a.webp", tmp_path / "empty"],
                                   lambda path, problem: problems.append((path, problem)))
    assert found == [tmp_path / n for n in ["a.webp", "b/1.tiff", "b/2.jpg", "b/deep/3.PNG"]]
    assert [p for p, _ in problems] == [tmp_path / "empty"] and "no image files" in problems[0][1]


# --- the command line, end to end

def run_cli(*args):
    """Runs predict.py in a subprocess; returns the CompletedProcess (not checked)."""
    return run([sys.executable, str(ROOT / "predict.py"), *map(str, args)], cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def drawings(digits, tmp_path_factory):
    """A folder tree of 12 drawings (three styles, nested) and their labels, in sorted path order."""
    folder = tmp_path_factory.mktemp("drawings")
    (folder / "nested").mkdir()
    images, labels = digits
    rng = np.random.default_rng(3)
    chosen = [s for s in styles.STYLES if s.name in ("paper_photo", "rgba_dark_ink", "mouse_bmp")]
    paths = [styles.write_rendering(chosen[i % 3], images[i], rng,
                                        folder / ("nested" if i % 2 else "") / f"d{i:02d}") for i in range(12)]
    order = sorted(range(12), key=lambda i: paths[i])
    return folder, [paths[i] for i in order], labels[order]


@pytest.mark.slow
def test_cli_json_folder_errors_and_previews(drawings, model_file, tmp_path):
    """Folder input, bad files among good ones, JSON output and --save-preprocessed in one run."""
    folder, paths, labels = drawings
    problems = {**bad_files(tmp_path), **blank_files(tmp_path)}
    previews = tmp_path / "previews"
    result = run_cli(folder, *problems, "--model", model_file, "--format", "json", "--save-preprocessed", previews)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {path}: {problem}" for path, problem in problems.items()]
    rows = json.loads(result.stdout)
    assert [row["file"] for row in rows] == [str(p) for p in paths]
    assert np.mean([row["digit"] for row in rows] == labels) >= 11 / 12
    for row in rows:
        probabilities = [t["probability"] for t in row["top3"]]
        assert row["digit"] == row["top3"][0]["digit"] and row["confidence"] == probabilities[0]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001
    for path in paths:
        model_input = np.asarray(Image.open(previews / f"{path.stem}_28x28.png"))
        assert np.abs(model_input / 255 - prepare_image(load_image(path))).max() <= 1 / 255
        assert Image.open(previews / f"{path.stem}_preview.png").height == 224


@pytest.mark.slow
def test_cli_table_and_csv(drawings, model_file):
    folder, paths, labels = drawings
    table = run_cli(*paths[:3], "--model", model_file)
    assert table.returncode == 0 and "error" not in table.stderr
    header, *lines = table.stdout.splitlines()
    assert header.split() == ["file", "digit", "confidence", "top", "3"] and len(lines) == 3
    digit_column = header.index("digit") + len("digit")
    for line, path in zip(lines, paths):
        assert line.startswith(str(path)) and line[:digit_column].rstrip()[-1].isdigit()
        assert len(line.split()) == 6 and line.split()[2].endswith("%")
    rows = list(csv.DictReader(io.StringIO(run_cli(folder, "--model", model_file, "--format", "csv").stdout)))
    assert [r["file"] for r in rows] == [str(p) for p in paths]
    assert list(rows[0]) == ["file", "digit", "confidence", "digit_2", "probability_2", "digit_3", "probability_3"]
    assert np.mean([int(r["digit"]) for r in rows] == labels) >= 11 / 12
    assert all(float(r["confidence"]) >= float(r["probability_2"]) >= float(r["probability_3"]) for r in rows)


@pytest.mark.slow
def test_cli_model_errors(drawings, tmp_path):
    _, paths, _ = drawings
    missing = run_cli(paths[0], "--model", tmp_path / "none.keras")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'none.keras'}: not found; run `dvc repro` to train one")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_text("not a model")
    result = run_cli(paths[0], "--model", corrupt)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith(f"error: {corrupt}: ")


@pytest.mark.slow
def test_cli_averages_over_the_test_time_shifts_of_params(drawings, model_file, model):
    """By default predict.py predicts like the evaluate stage: averaged over evaluate.test_time_shift_px."""
    from mnist_pipeline.model import shifted_views
    _, paths, _ = drawings

    def top3(*options):
        result = run_cli(*paths[:4], "--model", model_file, "--format", "json", *options)
        assert result.returncode == 0, result.stderr
        return [row["top3"] for row in json.loads(result.stdout)]

    shift = yaml.safe_load((ROOT / "params.yaml").read_text())["evaluate"]["test_time_shift_px"]
    assert cli.default_shift_px() == shift and top3() == top3("--shift-px", shift)
    assert top3("--shift-px", 1) != top3("--shift-px", 0)
    kept, inputs = cli.prepare_all(paths[:4], lambda path, problem: None)
    expected = np.mean([model.predict(view[..., np.newaxis], verbose=0) for view in shifted_views(inputs, 2)], axis=0)
    for row, probabilities in zip(top3("--shift-px", 2), expected):
        assert [t["digit"] for t in row] == list(np.argsort(probabilities)[::-1][:3])
        np.testing.assert_allclose([t["probability"] for t in row], np.sort(probabilities)[::-1][:3], atol=1e-4)
    bad = run_cli(paths[0], "--shift-px", "9")
    assert bad.returncode == 2 and "--shift-px: invalid choice: 9" in bad.stderr

"""Tests predict.py's command line end to end, and its one-line errors for unusable files.

Reads the MNIST IDX files in ../shared/data/mnist (the tests skip without them); the slow tests use the
small CNN that tests/conftest.py trains once per session. Broken files and the CLI's outputs are written
to tmp folders.
"""
import csv
import io
import json
import struct
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REAL_MNIST, REAL_MNIST_GROUP, ROOT, encoded, run, write_png_header
from mnist_pipeline.predict import cli, decode, drawing, styles
from mnist_pipeline.predict.decode import ImageError, load_image
from mnist_pipeline.predict.prepare import prepare_image

pytestmark = pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"MNIST files not found in {REAL_MNIST}")


def _bmp_with_compression(code):
    """A small BMP whose header names an unknown compression method."""
    data = bytearray(encoded(Image.new("L", (8, 8), 255), "BMP"))
    data[30:34] = struct.pack("<I", code)
    return bytes(data)






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
@REAL_MNIST_GROUP
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
@REAL_MNIST_GROUP
def test_cli_table_and_csv(drawings, model_file, capsys, monkeypatch):
    """The table and CSV outputs, from predict.py's main in this process (main_in_process: two Python and
    TensorFlow starts less; the tests around it run predict.py itself)."""
    folder, paths, labels = drawings
    monkeypatch.chdir(ROOT)  # where run_cli runs predict.py
    status, out, err = main_in_process(capsys, *paths[:3], "--model", model_file)
    assert status == 0 and "error" not in err
    # the model_file fixture has no calibration.json and no not_a_digit.json beside it
    header, *lines, unchecked, note = out.splitlines()
    assert header.split() == ["file", "digit", "confidence", "unsure", "not", "a", "digit", "top", "3"]
    assert len(lines) == 3 and unchecked.startswith("(not a digit ?: not checked")
    assert note.startswith("(confidence uncalibrated")
    digit_column = header.index("digit") + len("digit")
    for line, path in zip(lines, paths):
        assert line.startswith(str(path)) and line[:digit_column].rstrip()[-1].isdigit()
        assert len(line.split()) == 8 and line.split()[2].endswith("%") and line.split()[3] in ("yes", "no")
        assert line.split()[4] == "?"
    status, out, err = main_in_process(capsys, folder, "--model", model_file, "--format", "csv")
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["file"] for r in rows] == [str(p) for p in paths]
    assert list(rows[0]) == ["file", "digit", "confidence", "unsure", "calibrated", "digit_2", "probability_2",
                             "digit_3", "probability_3", "not_a_digit", "not_a_digit_score",
                             "not_a_digit_threshold", "digit_pieces", "stroke_spread"]
    assert all(r["not_a_digit"] == "" and r["digit_pieces"] == "1" for r in rows)
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


def main_in_process(capsys, *args):
    """(exit status, stdout, stderr) of predict.py's main (cli.main) run in this process: what run_cli runs, without
    a Python and TensorFlow start per call."""
    try:
        status = cli.main([str(arg) for arg in args])
    except SystemExit as end:  # argparse's refusals
        status = end.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.slow
@REAL_MNIST_GROUP
def test_cli_averages_over_the_test_time_shifts_of_params(drawings, model_file, model, capsys, monkeypatch):
    """By default predict.py predicts like the evaluate stage: averaged over evaluate.test_time_shift_px (its main,
    in this process; test_cli_json_folder_errors_and_previews and test_cli_model_errors run predict.py itself)."""
    from mnist_pipeline.shifts import shifted_views
    _, paths, _ = drawings
    monkeypatch.chdir(ROOT)  # where predict.py runs: params.yaml gives the default shift

    def top3(*options):
        status, out, err = main_in_process(capsys, *paths[:4], "--model", model_file, "--format", "json", *options)
        assert status == 0, err
        return [row["top3"] for row in json.loads(out)]

    shift = yaml.safe_load((ROOT / "params.yaml").read_text())["evaluate"]["test_time_shift_px"]
    assert cli.default_shift_px() == shift and top3() == top3("--shift-px", shift)
    assert top3("--shift-px", 1) != top3("--shift-px", 0)
    kept, readings = cli.prepare_all(paths[:4], lambda path, problem: None)
    expected = np.mean([model.predict(view[..., np.newaxis], verbose=0)  # both readings (equal where step 6 left them)
                        for reading in (0, 1) for view in shifted_views(readings[:, reading], 2)], axis=0)
    for row, probabilities in zip(top3("--shift-px", 2), expected):
        assert [t["digit"] for t in row] == list(np.argsort(probabilities)[::-1][:3])
        np.testing.assert_allclose([t["probability"] for t in row], np.sort(probabilities)[::-1][:3], atol=1e-4)
    status, _, err = main_in_process(capsys, paths[0], "--shift-px", "9")
    assert status == 2 and "--shift-px: invalid choice: 9" in err

"""predict.py given hostile files: every unusable image, model file and --save-preprocessed folder gets one
line `error: <file>: <problem>` and an exit status, never a traceback or a hang, and no existing file changes.

Writes pictures, FIFOs, sparse files and tiny Keras models to pytest tmp folders. Runs predict.py as a
subprocess (with a timeout, so a read that never ends fails the test) or cli.main in the test process;
the tests marked slow import TensorFlow to classify.
"""
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from conftest import ROOT, write_png_header
from mnist_pipeline.predict import cli, decode
from mnist_pipeline.predict.decode import ImageError, load_image
from mnist_pipeline.predict.output import PREVIEWS_MARKER, preview_folder

NOT_AN_IMAGE = "not an image or an unsupported format (expected PNG, JPEG, BMP, GIF, WebP or TIFF)"


def run_cli(*args, timeout=60):
    """predict.py in a subprocess; a run that hangs fails the test after `timeout` seconds."""
    return subprocess.run([sys.executable, str(ROOT / "predict.py"), *map(str, args)], cwd=ROOT, timeout=timeout,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def snapshot(folder):
    """{path: sha256} of the regular files under `folder` (FIFOs and devices are never read)."""
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.is_symlink()}


def draw_digit(path, size=(120, 100)):
    """A dark '7' on white paper, saved as `path` (the format from its suffix)."""
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).line([(30, 20), (85, 20), (50, 85)], fill="black", width=9)
    img.save(path)
    return path


def placeholder_model(folder):
    """A zip file that passes predict.py's early model check; it is never loaded when no image is usable."""
    path = folder / "placeholder.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    return path


def unusable_images(folder):
    """(arguments for predict.py, the exact error lines expected, in order) for every kind of unusable image."""
    good_png = draw_digit(folder / "cut.png").read_bytes()
    os.mkfifo(folder / "pipe.png")
    (folder / "zero.png").symlink_to("/dev/zero")
    (folder / "plain.txt").write_text("a file, not a folder\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "cut.png").write_bytes(good_png[:len(good_png) // 2])
    (folder / "notes.jpg").write_text("not a picture\n")
    write_png_header(folder / "huge.png", 8000, 6000)
    with open(folder / "big.png", "wb") as big:  # sparse: no disk space, and never read
        big.truncate(decode.MAX_FILE_BYTES + 1)
    listing = folder / "listing"
    (listing / "folder.png").mkdir(parents=True)  # a folder named like a picture is searched, not read
    os.mkfifo(listing / "pipe.gif")
    (listing / "tty.jpg").symlink_to("/dev/zero")
    problems = {
        folder / "missing.png": "not found",
        Path("/dev/zero"): "is a character device; expected a regular file",
        folder / "pipe.png": "is a FIFO (named pipe); expected a regular file",
        folder / "zero.png": "is a character device; expected a regular file",
        folder / "plain.txt" / "x.png": "cannot read (Not a directory)",
        folder / "empty.png": "is empty",
        folder / "cut.png": "truncated or corrupt image data",
        folder / "notes.jpg": NOT_AN_IMAGE,
        folder / "huge.png": "image too large (8000x6000 pixels; the limit is 40 megapixels)",
        folder / "big.png": "file too large (over 128 MiB)",
        listing: None,
        listing / "pipe.gif": "is a FIFO (named pipe); expected a regular file",
        listing / "tty.jpg": "is a character device; expected a regular file",
    }
    return list(problems), [f"error: {path}: {problem}" for path, problem in problems.items() if problem]


def test_unusable_images_get_one_line_each_without_hanging(tmp_path):
    args, expected = unusable_images(tmp_path)
    model = placeholder_model(tmp_path)
    before = snapshot(tmp_path)
    result = run_cli(*args, "--model", model)
    assert (result.returncode, result.stdout, result.stderr.splitlines()) == (1, "", expected)
    assert snapshot(tmp_path) == before


def test_bytes_read_per_image_are_capped(tmp_path, monkeypatch):
    """A file that grows past the cap after its size was checked is still refused after MAX_FILE_BYTES + 1 bytes."""
    path = draw_digit(tmp_path / "digit.png")
    monkeypatch.setattr(decode, "MAX_FILE_BYTES", path.stat().st_size - 1)
    real_fstat = os.fstat
    monkeypatch.setattr(decode.os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 1, *real_fstat(fd)[7:])))
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert caught.value.problem == f"file too large (over {decode.MAX_FILE_BYTES / 2**20:g} MiB)"


def test_usable_images_are_kept_beside_unusable_ones(tmp_path):
    """What predict.py classifies (the model itself is tested in the slow tests): each good file, whatever the others."""
    args, expected = unusable_images(tmp_path)
    good = [draw_digit(tmp_path / "a.png"), draw_digit(tmp_path / "listing" / "b.jpg")]
    lines = []

    def report(path, problem):
        lines.append(f"error: {path}: {problem}")

    kept, inputs = cli.prepare_all(cli.collect_images([good[0], *args], report), report)
    assert kept == good and inputs.shape == (2, 2, 28, 28) and lines == expected


# --- the model file, checked before any work and before TensorFlow is imported

def not_models(folder):
    """{model path: the exact problem} for every kind of model file refused before TensorFlow starts."""
    (folder / "folder.keras").mkdir()
    os.mkfifo(folder / "pipe.keras")
    (folder / "empty.keras").write_bytes(b"")
    (folder / "text.keras").write_text("not a model\n")
    return {
        folder / "none.keras": "not found; run `dvc repro` to train one",
        folder / "folder.keras": "is a directory; expected a regular file",
        folder / "pipe.keras": "is a FIFO (named pipe); expected a regular file",
        folder / "empty.keras": "is empty",
        folder / "text.keras": "not a Keras model (.keras files are zip archives)",
    }


def test_unusable_model_files_stop_before_any_work(tmp_path, monkeypatch, capsys):
    digit = draw_digit(tmp_path / "digit.png")
    monkeypatch.setattr(cli, "prepare_all", lambda *args: pytest.fail("images were read before the model check"))
    monkeypatch.setattr(cli, "load_model", lambda path: pytest.fail("the model was loaded"))
    for model, problem in not_models(tmp_path).items():
        with pytest.raises(SystemExit) as caught:
            cli.main([str(digit), "--model", str(model)])
        assert (caught.value.code, capsys.readouterr()) == (2, ("", f"error: {model}: {problem}\n"))


def test_a_missing_model_is_named_at_once_by_predict_py(tmp_path):
    digit = draw_digit(tmp_path / "digit.png")
    result = run_cli(digit, "--model", tmp_path / "none.keras")
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", f"error: {tmp_path / 'none.keras'}: not found; run `dvc repro` to train one\n")


# --- --save-preprocessed: checked before any work, never over an existing file, never read back

def photos_folder(folder):
    """A folder with two pictures of a digit, one nested."""
    photos = folder / "photos"
    (photos / "more").mkdir(parents=True)
    draw_digit(photos / "seven.png")
    draw_digit(photos / "more" / "seven.jpg")
    return photos


@pytest.mark.parametrize("case", ["an existing file", "under a file", "the input folder", "holds an input",
                                  "a folder of other files"])
def test_bad_preview_folders_stop_before_any_work(case, tmp_path):
    photos = photos_folder(tmp_path)
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "list.txt").write_text("mine too\n")
    folder, inputs, problem = {
        "an existing file": (tmp_path / "notes.txt", [photos], "is not a directory; cannot write outputs into it"),
        "under a file": (tmp_path / "notes.txt" / "previews", [photos], "cannot write output (Not a directory)"),
        "the input folder": (photos, [photos], "is an input folder; name a folder of its own for the previews"),
        "holds an input": (tmp_path, [photos / "seven.png"],
                           f"holds the input {photos / 'seven.png'}; name a folder of its own for the previews"),
        "a folder of other files": (tmp_path / "mine", [photos], "folder is not empty and holds no earlier previews "
                                    f"({PREVIEWS_MARKER}); name a new or empty folder"),
    }[case]
    model = placeholder_model(tmp_path / "mine")  # reading a picture first would end in a model error instead
    before = (snapshot(tmp_path), sorted(tmp_path.rglob("*")))
    result = run_cli(*inputs, "--model", model, "--save-preprocessed", folder)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {folder}: {problem}\n")
    assert (snapshot(tmp_path), sorted(tmp_path.rglob("*"))) == before  # nothing changed, nothing created


def save_previews(inputs, folder):
    """What predict.py --save-preprocessed does before the model runs: (kept paths, error lines)."""
    lines = []

    def report(path, problem):
        lines.append(f"error: {path}: {problem}")

    kept, _ = cli.prepare_all(cli.collect_images(inputs, report), report, preview_folder(folder, inputs))
    return kept, lines


def test_previews_never_overwrite_and_are_never_read_back(tmp_path):
    photos = photos_folder(tmp_path)
    previews = photos / "previews"  # inside the input folder: searches skip it
    kept, lines = save_previews([photos], previews)
    assert kept == [photos / "more" / "seven.jpg", photos / "seven.png"] and lines == []
    first = {"seven_28x28.png", "seven_preview.png", "seven_2_28x28.png", "seven_2_preview.png"}
    assert {p.name for p in previews.iterdir()} == first | {PREVIEWS_MARKER}
    (previews / "seven_3_28x28.png").write_text("a file of the user's\n")
    before = snapshot(previews)
    kept, lines = save_previews([photos], previews)  # a second run over the same folder, into the same previews
    assert kept == [photos / "more" / "seven.jpg", photos / "seven.png"] and lines == []
    assert {p: h for p, h in snapshot(previews).items() if p in before} == before
    assert {p.name for p in previews.iterdir()} - set(p.name for p in before) == {
        "seven_4_28x28.png", "seven_4_preview.png", "seven_5_28x28.png", "seven_5_preview.png"}
    lines = []
    assert cli.collect_images([previews], lambda path, problem: lines.append(f"error: {path}: {problem}")) == []
    assert lines == [f"error: {previews}: holds the previews of an earlier --save-preprocessed run; not searched"]


# --- end to end with a real (tiny, untrained) Keras model

@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """(a model mapping (28, 28, 1) to 10 classes, one mapping it to 5), untrained, saved as .keras."""
    import keras
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for classes in (10, 5):
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(classes, activation="softmax")])
        paths.append(folder / f"dense{classes}.keras")
        model.save(paths[-1])
    return paths


@pytest.mark.slow
def test_good_pictures_are_classified_among_bad_ones_and_previews_not_read_back(tiny_models, tmp_path):
    model, _ = tiny_models
    photos = photos_folder(tmp_path)
    args, expected = unusable_images(tmp_path)
    previews = photos / "previews"
    first = run_cli(photos, *args, "--model", model, "--format", "csv", "--save-preprocessed", previews, timeout=300)
    assert (first.returncode, first.stderr.splitlines()[-len(expected):]) == (1, expected)
    assert [row.split(",")[0] for row in first.stdout.splitlines()[1:]] == [
        str(photos / "more" / "seven.jpg"), str(photos / "seven.png")]
    before = snapshot(tmp_path)
    second = run_cli(photos, "--model", model, "--format", "csv", "--save-preprocessed", previews, timeout=300)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert {p: h for p, h in snapshot(tmp_path).items() if p in before} == before
    assert len(list(previews.glob("*.png"))) == 8  # seven, seven_2 from the first run; seven_3, seven_4 now


@pytest.mark.slow
def test_a_model_of_another_shape_gets_one_line(tiny_models, tmp_path):
    _, five_classes = tiny_models
    digit = draw_digit(tmp_path / "digit.png")
    result = run_cli(digit, "--model", five_classes, timeout=300)
    assert (result.returncode, result.stdout, result.stderr.splitlines()[-1:]) == (2, "", [
        f"error: {five_classes}: model maps (None, 28, 28, 1) to (None, 5); expected (None, 28, 28, 1) to (None, 10)"])

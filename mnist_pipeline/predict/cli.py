"""The predict command line: classifies pictures of handwritten digits with the pipeline's Keras model.

    python predict.py PATH [PATH ...] [--model models/model.keras] [--format table|json|csv]
                      [--shift-px N] [--save-preprocessed DIR]

Reads image files (PNG, JPEG, BMP, GIF, WebP, TIFF) and folders (searched recursively for those
extensions) and the model file; prints per image the predicted digit, its confidence and the top 3
on stdout. Like the evaluate stage, it averages the model's outputs for each image and for copies
shifted by `evaluate.test_time_shift_px` of params.yaml (--shift-px overrides; 0 turns it off).
Each unusable file gets one line `error: <file>: <problem>` on stderr while the others are still
classified. --save-preprocessed DIR writes `<stem>_28x28.png` (what the model saw) and
`<stem>_preview.png` (the original beside it) per image. Exit status: 0 when every image was
classified, 1 when some failed, 2 for a bad command line or model.
"""
import argparse
import contextlib
import os
import sys
from pathlib import Path

import numpy as np

from mnist_pipeline.params import PARAMS_FILE, ParamsError, load_params
from mnist_pipeline.paths import MODEL_FILE
from mnist_pipeline.predict.decode import ImageError, load_image
from mnist_pipeline.predict.output import FORMATTERS, results, save_preprocessed
from mnist_pipeline.predict.prepare import prepare_image

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / MODEL_FILE
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
BATCH_SIZE = 256


def parse_args(argv):
    """The command line as an argparse namespace."""
    parser = argparse.ArgumentParser(prog="predict.py", description="Classify pictures of handwritten digits.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files and/or folders")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help=f"Keras model file (default: {MODEL_FILE} in the repository)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    parser.add_argument("--shift-px", type=int, choices=range(5), metavar="N",
                        help="test-time augmentation: also predict copies shifted N px (0-4; default: "
                             "evaluate.test_time_shift_px in params.yaml)")
    parser.add_argument("--save-preprocessed", type=Path, metavar="DIR",
                        help="write each 28x28 model input and a side-by-side preview here")
    return parser.parse_args(argv)


def collect_images(paths, report):
    """Files as given plus the image files under each folder (recursive, sorted), without repeats;
    calls report(folder, problem) for a folder without any."""
    found = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            report(path, f"no image files ({' '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        found.extend(images)
    return list(dict.fromkeys(found))


def prepare_all(paths, report, save_dir=None):
    """(paths, inputs (N, 28, 28) float32) of the usable images; calls report(path, problem) for each
    file that cannot be used and, with save_dir, saves each input and its preview there."""
    kept, inputs, stems = [], [], {}
    for path in paths:
        try:
            image = load_image(path)
            digit = prepare_image(image)
        except ImageError as err:
            report(path, err.problem)
            continue
        kept.append(path)
        inputs.append(digit)
        if save_dir is not None:
            stems[path.stem] = stems.get(path.stem, 0) + 1
            stem = path.stem if stems[path.stem] == 1 else f"{path.stem}_{stems[path.stem]}"
            save_preprocessed(save_dir, stem, image, digit)
    return kept, np.array(inputs, dtype=np.float32).reshape(-1, 28, 28)


def default_shift_px():
    """evaluate.test_time_shift_px from the repository's params.yaml, so predictions match the evaluated model."""
    try:
        return load_params("evaluate.test_time_shift_px", path=ROOT / PARAMS_FILE).evaluate.test_time_shift_px
    except ParamsError as err:
        print(f"error: {err} (or pass --shift-px)", file=sys.stderr)
        sys.exit(2)


def load_model(path):
    """The Keras model at `path`. TensorFlow is imported only now, its start-up logs silenced; a
    missing or unusable file ends the program with a one-line error and exit status 2."""
    with silenced_stderr():
        from mnist_pipeline.model import ModelFileError, load_model as load_checked_model
        try:
            return load_checked_model(path)
        except ModelFileError as err:
            failure = err
    print(f"error: {failure}", file=sys.stderr)
    sys.exit(2)


@contextlib.contextmanager
def silenced_stderr():
    """Points file descriptor 2 at /dev/null for the block: TensorFlow's C++ start-up logs ignore
    TF_CPP_MIN_LOG_LEVEL and would bury the one-line errors. Exceptions still print afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = parse_args(argv)
    failures = []

    def report(path, problem):
        failures.append(path)
        print(f"error: {path}: {problem}", file=sys.stderr)

    shift_px = default_shift_px() if args.shift_px is None else args.shift_px
    paths, inputs = prepare_all(collect_images(args.paths, report), report, args.save_preprocessed)
    if paths:
        model = load_model(args.model)
        from mnist_pipeline.model import predict_probabilities  # TensorFlow is loaded by now
        probabilities = predict_probabilities(model, inputs[..., np.newaxis], BATCH_SIZE, shift_px)
        sys.stdout.write(FORMATTERS[args.format](results(paths, probabilities)))
    return 1 if failures else 0

"""The predict command line: classifies pictures of handwritten digits with the pipeline's model.

    python predict.py PATH [PATH ...] [--model models/model.tflite] [--format table|json|csv]
                      [--shift-px N] [--save-preprocessed DIR]

Reads image files (PNG, JPEG, BMP, GIF, WebP, TIFF) and folders (searched recursively for those
extensions) and the model file; prints per image the predicted digit, its confidence, whether it is
unsure and the top 3 on stdout. The confidence is calibrated with the temperature in calibration.json
beside the model file (the calibrate stage); without one fitted for that file it is the model's own,
and the output says "uncalibrated" (mnist_pipeline.calibration.model_calibration). Like the evaluate
stage, it averages the model's outputs for each image and for copies shifted by
`evaluate.test_time_shift_px` of params.yaml (--shift-px overrides; 0 turns it off); a picture whose strokes
the preparation thinned or thickened is also read as drawn and the two answers averaged (predict/readings.py).
Each picture also gets `not_a_digit` (probably not one digit: a letter, a drawing, several digits), its
score and threshold, from not_a_digit.json beside the model file (the not_a_digit stage; without one, not
checked), the digit pieces found side by side and the stroke spread (mnist_pipeline.predict.rejection).
Each unusable file gets one line `error: <file>: <problem>` on stderr while the others are still
classified. --save-preprocessed DIR writes `<stem>_28x28.png` (what the model saw) and
`<stem>_preview.png` (the original beside it and, where they differ, beside the reading as drawn) per image,
never over an existing file; folder searches skip such preview folders. The model file and DIR are checked
before any work. Exit status: 0 when every image was classified, 1 when some failed, 2 for a bad command
line, model file or preview folder.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

from mnist_pipeline.calibration import CalibrationError, apply_temperature, model_calibration
from mnist_pipeline.files import InputError, OutputError
from mnist_pipeline.not_a_digit import DetectorFileError
from mnist_pipeline.params import PARAMS_FILE, ParamsError, load_params
from mnist_pipeline.predict.decode import ImageError, load_image
from mnist_pipeline.predict.output import FORMATTERS, is_preview_folder, preview_folder, results, save_preprocessed
from mnist_pipeline.predict.pieces import prepare_with_checks
from mnist_pipeline.predict.readings import reading_probabilities
from mnist_pipeline.predict.runtime import EXPORTED_MODEL_FILE, load_classifier, model_format, source_model
from mnist_pipeline.stage import PipelineError
from mnist_pipeline.predict.rejection import read_detector, verdicts

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / EXPORTED_MODEL_FILE
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
BATCH_SIZE = 256


def parse_args(argv):
    """The command line as an argparse namespace."""
    parser = argparse.ArgumentParser(prog="predict.py", description="Classify pictures of handwritten digits.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files and/or folders")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help=f"model file: the export stage's LiteRT model or a .keras file (default: "
                             f"{EXPORTED_MODEL_FILE} in the repository)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    parser.add_argument("--shift-px", type=int, choices=range(5), metavar="N",
                        help="test-time augmentation: also predict copies shifted N px (0-4; default: "
                             "evaluate.test_time_shift_px in params.yaml)")
    parser.add_argument("--save-preprocessed", type=Path, metavar="DIR",
                        help="write each 28x28 model input and a side-by-side preview here")
    return parser.parse_args(argv)


def collect_images(paths, report):
    """Files as given plus the files with an image suffix under each folder (recursive, sorted; symbolic
    links to folders and --save-preprocessed folders are not entered), without repeats; calls
    report(folder, problem) for a folder without any or a preview folder given as input."""
    found = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
        elif is_preview_folder(path):
            report(path, "holds the previews of an earlier --save-preprocessed run; not searched")
        else:
            images = sorted(images_under(path))
            if not images:
                report(path, f"no image files ({' '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
            found.extend(images)
    return list(dict.fromkeys(found))


def images_under(folder):
    """The paths with an image suffix under `folder` that are not folders (a FIFO or a device among
    them is named by load_image), skipping preview folders."""
    for top, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not is_preview_folder(Path(top, name))]
        yield from (Path(top, name) for name in names if Path(name).suffix.lower() in IMAGE_SUFFIXES)


def prepare_all(paths, report, save_dir=None, checks=None):
    """(paths, readings (N, 2, 28, 28) float32: prepare.prepare_readings) of the usable images; calls
    report(path, problem) for each file that cannot be used and, with save_dir, saves each input and its preview
    there (output.save_preprocessed). With a list `checks`, appends each usable image's InkChecks
    (predict/pieces.py: pieces side by side, stroke spread)."""
    kept, inputs = [], []
    for path in paths:
        try:
            image = load_image(path)
            readings, check = prepare_with_checks(image)
        except ImageError as err:
            report(path, err.problem)
            continue
        kept.append(path)
        inputs.append(readings)
        if checks is not None:
            checks.append(check)
        if save_dir is not None:
            save_preprocessed(save_dir, path.stem, image, readings)
    return kept, np.array(inputs, dtype=np.float32).reshape(-1, 2, 28, 28)


def default_shift_px():
    """evaluate.test_time_shift_px from the repository's params.yaml, so predictions match the evaluated model."""
    try:
        return load_params("evaluate.test_time_shift_px", path=ROOT / PARAMS_FILE).evaluate.test_time_shift_px
    except ParamsError as err:
        fail(f"{err} (or pass --shift-px)")


def default_unsure_below():
    """confidence.unsure_below from the repository's params.yaml, for a model without its calibration.json."""
    try:
        return load_params("confidence.unsure_below", path=ROOT / PARAMS_FILE).confidence.unsure_below
    except ParamsError as err:
        fail(err)


def load_calibration(model_file):
    """The model file's Calibration (for an export, that of the Keras file it was exported from, when the export
    stage's record says so: runtime.source_model); a damaged calibration.json ends the program with one line,
    status 2."""
    try:
        return model_calibration(source_model(model_file, ROOT), default_unsure_below)
    except (CalibrationError, InputError) as err:
        fail(err)


def load_not_a_digit_detector(model_file):
    """The not-a-digit detector fitted for the model file (for an export, for the Keras file it was exported from:
    runtime.source_model; None without one); a damaged one ends the program with one line, status 2."""
    try:
        return read_detector(source_model(model_file, ROOT))
    except DetectorFileError as err:
        fail(err)


def check_model_file(path):
    """Ends the program with one line and status 2 unless `path` is a non-empty regular file holding a LiteRT
    or Keras model (by its first bytes); checked before any work and before the model is loaded."""
    try:
        model_format(path)
    except PipelineError as err:
        fail(err)


def load_model(path):
    """The classifier of the model file at `path` (predict/runtime.py: a LiteRT export runs without TensorFlow,
    a .keras file on Keras); classify(batch) gives probabilities, classify.heads(images) what the not-a-digit
    detector reads. A missing or unusable file ends the program with a one-line error and exit status 2."""
    try:
        return load_classifier(path)
    except PipelineError as err:
        fail(err)


def classify_inputs(classify, readings, checks, shift_px, temperature, detector):
    """((N, 10) probabilities at `temperature` of (N, 2, 28, 28) readings (readings.reading_probabilities: both
    readings, each averaged over test-time shifts of `shift_px`); N not-a-digit verdicts (rejection.verdicts:
    `detector`'s scores of the classifier's heads on the first reading, and the InkChecks `checks`)); predict.py's
    and the demo server's (serve/classify.py) arithmetic."""
    probabilities = apply_temperature(reading_probabilities(classify, readings, BATCH_SIZE, shift_px), temperature)
    return probabilities, verdicts(detector, detector and classify.heads(readings[:, 0]), checks)


def fail(message):
    """Prints `error: <message>` on stderr and exits with status 2 (a bad command line, model or output folder)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = parse_args(argv)
    failures = []

    def report(path, problem):
        failures.append(path)
        print(f"error: {path}: {problem}", file=sys.stderr)

    check_model_file(args.model)
    calibration = load_calibration(args.model)
    detector, checks = load_not_a_digit_detector(args.model), []
    try:
        save_dir = None if args.save_preprocessed is None else preview_folder(args.save_preprocessed, args.paths)
        shift_px = default_shift_px() if args.shift_px is None else args.shift_px
        paths, inputs = prepare_all(collect_images(args.paths, report), report, save_dir, checks)
    except OutputError as err:
        fail(err)
    if paths:
        probabilities, judged = classify_inputs(load_model(args.model), inputs, checks, shift_px,
                                                calibration.temperature, detector)
        rows = results(paths, probabilities, calibration)
        for row, verdict in zip(rows, judged):
            row.update(verdict)
        sys.stdout.write(FORMATTERS[args.format](rows))
    return 1 if failures else 0

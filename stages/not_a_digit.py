"""Stage not_a_digit: fits the "not a digit" detector on the train and validation splits and measures it.

Reads models/model.keras, data/prepared/{x,y}_{train,val,test}.npy, Fashion-MNIST's test images in
data/not_digits/ (the fetch_not_digits stage) and params `confidence.reject_rate`, `not_digits.test_images`
and `robustness.images` (pictures per kind of rendered negative, at most MAX_PER_KIND). Fits the class
means and shared covariance of the penultimate-layer features on the train split, and for each score of
mnist_pipeline.not_a_digit the threshold that rejects `confidence.reject_rate` of the validation digits
(the test split is never used to fit). Any input is also rejected when predict's preparation finds two or
more digit-sized pieces side by side (predict/pieces.py) or no ink. Writes the detector with METHOD
beside the model (models/not_a_digit.json, models/not_a_digit.npz), the share rejected of each set
(MNIST validation and test, Fashion-MNIST, each kind of negatives.KINDS) per score to
metrics/not_a_digit.json, and examples of each set with its rate to plots/not_a_digit/examples.png.
"""
import sys

import numpy as np

from mnist_pipeline import negatives
from mnist_pipeline.calibration import file_sha256
from mnist_pipeline.data import load_split
from mnist_pipeline.files import atomic_directory, write_json
from mnist_pipeline.not_a_digit import (DETECTOR_JSON, METHODS, NOT_A_DIGIT_FIGURE, NOT_A_DIGIT_METRICS, fit_classes,
                                        outputs, save_detector, scores, threshold)
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import MODEL_FILE, PREPARED_DIR
from mnist_pipeline.predict.decode import ImageError
from mnist_pipeline.predict.pieces import array_pieces, prepare_with_pieces
from mnist_pipeline.stage import run_stage

METHOD = "mahalanobis"  # the score predict.py and the demo use: chosen by the measurements in docs/confidence.md
MAX_PER_KIND = 300
SEED = 21


def prepared_negatives(kind, count, rng, digits=None):
    """(inputs float32 (count, 28, 28), digit pieces (count,), blank (count,) bool) of `count` pictures of `kind`
    passed through predict's preparation, as predict.py sees them; a picture without ink is blank (all zero)."""
    inputs = np.zeros((count, 28, 28), dtype=np.float32)
    pieces, blank = np.zeros(count, dtype=int), np.zeros(count, dtype=bool)
    for i, picture in enumerate(negatives.render(kind, count, rng, digits)):
        try:
            inputs[i], pieces[i] = prepare_with_pieces(picture)
        except ImageError:
            blank[i] = True
    return inputs, pieces, blank


def measured_sets(x_val, x_test, fashion, count):
    """{name: (inputs (N, 28, 28), digit pieces (N,), blank (N,))}: the MNIST splits and Fashion-MNIST as arrays,
    the rendered negatives through predict's preparation."""
    sets = {name: (x[..., 0], np.array([array_pieces(image) for image in x[..., 0]]), np.zeros(len(x), bool))
            for name, x in (("mnist_validation", x_val), ("mnist_test", x_test), ("fashion_mnist", fashion))}
    rng = np.random.default_rng(SEED)
    digits = np.round(x_test[..., 0] * 255).astype(np.uint8)  # measured only: the split-off test digits
    for kind in negatives.KINDS:
        sets[kind] = prepared_negatives(kind, count, rng, digits)
    return sets


def main():
    params = load_params("confidence.reject_rate", "not_digits.test_images", "robustness.images")
    reject_rate = params.confidence.reject_rate
    x_train, y_train = load_split(PREPARED_DIR, "train", num_classes=10)
    x_val, _ = load_split(PREPARED_DIR, "val", num_classes=10)
    x_test, _ = load_split(PREPARED_DIR, "test", num_classes=10)
    fashion = negatives.read_fashion(negatives.NOT_DIGITS_DIR / params.not_digits.test_images.name)

    from mnist_pipeline.model import load_model
    model = load_model(MODEL_FILE)
    features, _, _ = outputs(model, x_train)
    means, precision = fit_classes(features, y_train)
    sets = measured_sets(x_val, x_test, fashion, min(params.robustness.images, MAX_PER_KIND))

    by_method, rejected = {method: {} for method in METHODS + ("pieces_only",)}, {}
    levels = {}
    for name, (inputs, pieces, blank) in sets.items():
        out = outputs(model, inputs)
        structural = (pieces >= 2) | blank
        by_method["pieces_only"][name] = round(float(structural.mean()), 4)
        for method in METHODS:
            score = scores(method, *out, means, precision)
            if name == "mnist_validation":
                levels[method] = threshold(score, reject_rate)
            flags = (score > levels[method]) | structural
            by_method[method][name] = round(float(flags.mean()), 4)
            if method == METHOD:
                rejected[name] = flags

    save_detector(MODEL_FILE.parent, METHOD, levels[METHOD], reject_rate, means, precision, file_sha256(MODEL_FILE))
    write_json(NOT_A_DIGIT_METRICS, {"method": METHOD, "threshold": round(levels[METHOD], 4),
                                     "reject_rate": reject_rate, "pictures_per_kind": len(sets["letter"][0]),
                                     "rejected": by_method[METHOD], "by_method": by_method})
    from mnist_pipeline.not_a_digit_figure import examples_figure
    rows = [(name, inputs, rejected[name], by_method[METHOD][name]) for name, (inputs, _, _) in sets.items()
            if name != "mnist_validation"]
    with atomic_directory(NOT_A_DIGIT_FIGURE.parent) as folder:
        examples_figure(rows).savefig(folder / NOT_A_DIGIT_FIGURE.name, dpi=80)
    print(f"{METHOD}: threshold {levels[METHOD]:.4g} rejects "
          + ", ".join(f"{name} {rate:.1%}" for name, rate in by_method[METHOD].items())
          + f"; detector in {DETECTOR_JSON}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

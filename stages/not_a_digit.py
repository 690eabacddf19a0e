"""Stage not_a_digit: fits the "not a digit" detector on the train and validation splits and measures it.

Reads models/model.keras, data/prepared/{x,y}_{train,val,test}.npy, Fashion-MNIST's test images in data/not_digits/
(the fetch_not_digits stage) and params `confidence.reject_rate`, `not_digits.test_images` and `robustness.images`
(pictures per kind of rendered negative, at most MAX_PER_KIND). Fits the class means and shared covariance of the
penultimate-layer features on the train split, and the outlier-exposure head (mnist_pipeline/not_a_digit_head.py: on
the features, the convolution blocks' activations and the input's pixel statistics, not_a_digit.head_inputs) on
every POSITIVE_STRIDE-th train digit against generated non-digits, both passed through predict's preparation as
predict.py sees them (raw arrays against prepared pictures would teach the head to spot the preparation): the kinds
of negatives.KINDS rendered from train digits with TRAIN_SEED (TRAIN_FACTOR times as many as are measured, other
pictures than the measured ones) and clutter.clutter (CLUTTER_FACTOR per rendered picture). For each score of
mnist_pipeline.not_a_digit the threshold rejects `confidence.reject_rate` of the validation digits (the test split
is never used to fit; Fashion-MNIST never to fit either). Any input is also rejected when predict's preparation
finds two or more digit-sized pieces side by side or strokes too uneven for a pen (predict/pieces.py's InkChecks),
or no ink. Writes the detector with METHOD
beside the model (models/not_a_digit.json, models/not_a_digit.npz), the share rejected of each set (MNIST validation
and test, Fashion-MNIST, each kind of negatives.KINDS rendered with SEED; all prepared so) per score to
metrics/not_a_digit.json, with `kind_left_out`: each kind's share rejected by a head fitted without that kind's
training pictures, and `at_other_reject_rates`: each set's share rejected at thresholds set at OTHER_REJECT_RATES of
the validation digits, and examples of each set with its rate to plots/not_a_digit/examples.png.
"""
import sys

import numpy as np
from PIL import Image

from mnist_pipeline import clutter, negatives
from mnist_pipeline.calibration import file_sha256
from mnist_pipeline.data import load_split
from mnist_pipeline.files import atomic_directory, write_json
from mnist_pipeline.not_a_digit import (DETECTOR_JSON, METHODS, NOT_A_DIGIT_FIGURE, NOT_A_DIGIT_METRICS, fit_classes,
                                        head_inputs, outputs, save_detector, scores, threshold)
from mnist_pipeline.not_a_digit_head import fit_head
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import MODEL_FILE, PREPARED_DIR
from mnist_pipeline.predict.decode import ImageError
from mnist_pipeline.predict.pieces import prepare_with_checks
from mnist_pipeline.stage import run_stage
from mnist_pipeline.workers import parallel_map

METHOD = "outlier_exposure"  # the score predict.py and the demo use: chosen by the measurements in docs/confidence.md
MAX_PER_KIND = 300
SEED = 21          # the measured pictures
TRAIN_SEED = 1021  # the training pictures and the head's starting weights
TRAIN_FACTOR = 4  # training pictures rendered per kind, per measured picture (chosen: docs/confidence.md)
CLUTTER_FACTOR = 4
POSITIVE_STRIDE = 2
OTHER_REJECT_RATES = (0.0025, 0.005, 0.01)  # the chosen head also measured at these shares of validation digits


def _prepared_or_none(picture):
    try:
        return prepare_with_checks(picture)
    except ImageError:
        return None


def prepared(pictures, count):
    """(inputs float32 (count, 28, 28), not one digit by the ink checks (count,) bool, blank (count,) bool) of
    `count` PIL pictures passed through predict's preparation, as predict.py sees them, on every core; a picture
    without ink is blank (all zero)."""
    inputs = np.zeros((count, 28, 28), dtype=np.float32)
    not_one, blank = np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    for i, result in enumerate(parallel_map(_prepared_or_none, pictures, chunksize=64)):
        if result is None:
            blank[i] = True
        else:
            inputs[i], not_one[i] = result[0][0], result[1].not_one_digit  # the first reading, as adjusted
    return inputs, not_one, blank


def prepared_negatives(kind, count, rng, digits=None):
    """prepared() of `count` pictures of `kind` (negatives.render)."""
    return prepared(negatives.render(kind, count, rng, digits), count)


def eight_bit(x):
    """uint8 (N, 28, 28) of (N, 28, 28, 1) images in [0, 1]: the pixels a picture file of them holds."""
    return np.round(x[..., 0] * 255).astype(np.uint8)


def prepared_arrays(x):
    """prepared() of (N, 28, 28, 1) images in [0, 1] (MNIST, Fashion-MNIST), each saved as an 8-bit picture: what
    predict.py makes of the file. The detector only ever sees prepared inputs, so it is fitted and measured on them."""
    return prepared((Image.fromarray(image) for image in eight_bit(x)), len(x))


def measured_sets(x_val, x_test, fashion, count):
    """{name: (inputs (N, 28, 28), not one digit (N,), blank (N,))}: the MNIST splits, Fashion-MNIST and the rendered
    negatives, all through predict's preparation."""
    sets = {name: prepared_arrays(x) for name, x in (("mnist_validation", x_val), ("mnist_test", x_test),
                                                     ("fashion_mnist", fashion))}
    rng = np.random.default_rng(SEED)
    digits = eight_bit(x_test)  # measured only: the split-off test digits
    for kind in negatives.KINDS:
        sets[kind] = prepared_negatives(kind, count, rng, digits)
    return sets


def training_negatives(model, arrays, x_train, count):
    """{kind of negatives.KINDS, or "clutter": head inputs (N, D)} of generated non-digits made from train digits:
    `count` pictures per kind (blank ones left out) and CLUTTER_FACTOR * count per kind of clutter.KINDS."""
    rng = np.random.default_rng(TRAIN_SEED)
    digits = eight_bit(x_train)
    inputs = {kind: prepared_negatives(kind, count, rng, digits) for kind in negatives.KINDS}
    inputs = {kind: images[~blank] for kind, (images, _, blank) in inputs.items()}
    inputs["clutter"] = clutter.clutter(CLUTTER_FACTOR * count * len(clutter.KINDS), rng, digits)
    return {kind: head_inputs(*outputs(model, images), arrays) for kind, images in inputs.items()}


def flagged(method, arrays, model_outputs, structural, reject_rate):
    """(threshold, {set name: rejected (N,) bool}) of `method`: its threshold rejects `reject_rate` of
    "mnist_validation"; a picture is rejected when its score is over it or `structural` flags it."""
    score = {name: scores(method, *out, arrays) for name, out in model_outputs.items()}
    level = threshold(score["mnist_validation"], reject_rate)
    return level, {name: (value > level) | structural[name] for name, value in score.items()}


def share(flags):
    return round(float(np.mean(flags)), 4)


def kind_left_out(digits, others, arrays, model_outputs, structural, reject_rate):
    """{kind: share of its measured pictures rejected by a head fitted without that kind's training pictures}."""
    rates = {}
    for kind in negatives.KINDS:
        head = fit_head(digits, np.concatenate([inputs for name, inputs in others.items() if name != kind]),
                        np.random.default_rng(TRAIN_SEED))
        subset = {name: model_outputs[name] for name in ("mnist_validation", kind)}
        rates[kind] = share(flagged(METHOD, {**arrays, **head}, subset, structural, reject_rate)[1][kind])
    return rates


def main():
    params = load_params("confidence.reject_rate", "not_digits.test_images", "robustness.images")
    reject_rate = params.confidence.reject_rate
    x_train, y_train = load_split(PREPARED_DIR, "train", num_classes=10)
    x_val, _ = load_split(PREPARED_DIR, "val", num_classes=10)
    x_test, _ = load_split(PREPARED_DIR, "test", num_classes=10)
    fashion = negatives.read_fashion(negatives.NOT_DIGITS_DIR / params.not_digits.test_images.name)
    count = min(params.robustness.images, MAX_PER_KIND)

    from mnist_pipeline.model import load_model
    model = load_model(MODEL_FILE)
    train_outputs = outputs(model, x_train)
    arrays = dict(zip(("means", "precision"), fit_classes(train_outputs[0], y_train)))
    positives, _, blank = prepared_arrays(x_train[::POSITIVE_STRIDE])
    digits = head_inputs(*outputs(model, positives[~blank]), arrays)
    others = training_negatives(model, arrays, x_train, TRAIN_FACTOR * count)
    arrays.update(fit_head(digits, np.concatenate(list(others.values())), np.random.default_rng(TRAIN_SEED)))
    sets = measured_sets(x_val, x_test, fashion, count)
    model_outputs = {name: outputs(model, inputs) for name, (inputs, _, _) in sets.items()}
    structural = {name: not_one | blank for name, (_, not_one, blank) in sets.items()}

    by_method = {"ink_checks_only": {name: share(flags) for name, flags in structural.items()}}
    for method in METHODS:
        level, rejected = flagged(method, arrays, model_outputs, structural, reject_rate)
        by_method[method] = {name: share(flags) for name, flags in rejected.items()}
        if method == METHOD:
            chosen_level, chosen = level, rejected
    left_out = kind_left_out(digits, others, arrays, model_outputs, structural, reject_rate)
    at_other_rates = {str(rate): {name: share(flags) for name, flags in
                                  flagged(METHOD, arrays, model_outputs, structural, rate)[1].items()}
                      for rate in OTHER_REJECT_RATES}

    save_detector(MODEL_FILE.parent, METHOD, chosen_level, reject_rate, arrays, file_sha256(MODEL_FILE))
    write_json(NOT_A_DIGIT_METRICS, {"method": METHOD, "threshold": round(chosen_level, 4),
                                     "reject_rate": reject_rate, "pictures_per_kind": count,
                                     "rejected": by_method[METHOD], "kind_left_out": left_out,
                                     "at_other_reject_rates": at_other_rates, "by_method": by_method})
    from mnist_pipeline.not_a_digit_figure import examples_figure
    rows = [(name, inputs, chosen[name], by_method[METHOD][name]) for name, (inputs, _, _) in sets.items()
            if name != "mnist_validation"]
    with atomic_directory(NOT_A_DIGIT_FIGURE.parent) as folder:
        examples_figure(rows).savefig(folder / NOT_A_DIGIT_FIGURE.name, dpi=80)
    print(f"{METHOD}: threshold {chosen_level:.4g} rejects "
          + ", ".join(f"{name} {rate:.1%}" for name, rate in by_method[METHOD].items())
          + "; fitted without the kind: " + ", ".join(f"{kind} {rate:.1%}" for kind, rate in left_out.items())
          + f"; detector in {DETECTOR_JSON}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

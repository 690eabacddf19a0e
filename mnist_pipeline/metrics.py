"""Classification metrics from labels and predicted probabilities (plain NumPy), and the evaluate stage's outputs
read back (plots/predictions.csv, metrics/evaluate/metrics.json) with one-line errors (files.InputError).
"""
import numpy as np
import pandas as pd

from mnist_pipeline.files import InputError, read_json, read_table
from mnist_pipeline.paths import PREDICTION_COLUMNS

MISSING = "run `dvc repro` to produce it"


def confusion_matrix(actual, predicted, num_classes):
    """counts[i, j] = number of images of class i predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (actual, predicted), 1)
    return counts


def classification_metrics(actual, probabilities, class_names):
    """Test accuracy, loss, macro precision/recall/F1, per-class accuracy (recall) and misclassified count."""
    actual = np.asarray(actual, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    counts = confusion_matrix(actual, predicted, len(class_names))
    true_pos = np.diag(counts).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(true_pos / counts.sum(axis=0))
        recall = np.nan_to_num(true_pos / counts.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    p_true = probabilities[np.arange(len(actual)), actual]
    return {
        "test_accuracy": _round((predicted == actual).mean()),
        "test_loss": _round(-np.log(np.clip(p_true, 1e-7, 1.0)).mean()),
        "macro_precision": _round(precision.mean()),
        "macro_recall": _round(recall.mean()),
        "macro_f1": _round(f1.mean()),
        "misclassified": int((predicted != actual).sum()),
        "per_class_accuracy": {name: _round(r) for name, r in zip(class_names, recall)},
    }


def _round(value):
    return round(float(value), 6)


def _invalid(path, problem):
    return InputError(f"{path}: {problem}; rerun the evaluate stage")


def read_predictions(path, class_count, image_count):
    """The evaluate stage's predictions table (paths.PREDICTION_COLUMNS), checked: `index` names one of the
    `image_count` test images, `actual` and `predicted` are classes 0..class_count - 1, `confidence` is in [0, 1]."""
    table = read_table(path, PREDICTION_COLUMNS, missing_hint=MISSING, numbers=PREDICTION_COLUMNS)
    for column, limit in (("index", image_count), ("actual", class_count), ("predicted", class_count)):
        values = table[column]
        if not pd.api.types.is_integer_dtype(values) or values.min() < 0 or values.max() >= limit:
            raise _invalid(path, f"column {column} holds values that are not integers in 0..{limit - 1}")
    if not table["confidence"].between(0, 1).all():
        raise _invalid(path, "column confidence holds values outside [0, 1]")
    return table


def read_evaluation(path, class_names, keys=()):
    """The evaluate stage's summary (metrics/evaluate/metrics.json) with `keys` (numbers) and a per-class accuracy in
    [0, 1] for every class in `class_names`, checked."""
    summary = read_json(path, ("per_class_accuracy", *keys), missing_hint=MISSING)
    per_class = summary["per_class_accuracy"]
    if not isinstance(per_class, dict) or not all(_fraction(per_class.get(name)) for name in class_names):
        raise _invalid(path, f"per_class_accuracy has no accuracy in [0, 1] for some of the classes "
                             f"{', '.join(class_names)}")
    for key in keys:
        if not _number(summary[key]):
            raise _invalid(path, f"{key} = {summary[key]!r} is not a number")
    return summary


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _fraction(value):
    return _number(value) and 0 <= value <= 1

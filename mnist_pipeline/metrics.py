"""Classification metrics from labels and predicted probabilities (plain NumPy)."""
import numpy as np


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

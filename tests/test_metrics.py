"""Classification metrics against values worked out by hand."""
import numpy as np
import pytest

from mnist_pipeline.metrics import classification_metrics, confusion_matrix


def test_confusion_matrix_counts_actual_by_predicted():
    counts = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_classification_metrics_by_hand():
    actual = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 2])
    probabilities = np.full((6, 3), 0.1)
    probabilities[np.arange(6), predicted] = 0.8
    m = classification_metrics(actual, probabilities, ["a", "b", "c"])
    assert m["test_accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert m["misclassified"] == 2
    # precision: a 1/2, b 1/2, c 2/2; recall: a 1/2, b 1/1, c 2/3
    assert m["macro_precision"] == pytest.approx((0.5 + 0.5 + 1) / 3, abs=1e-6)
    assert m["macro_recall"] == pytest.approx((0.5 + 1 + 2 / 3) / 3, abs=1e-6)
    f1 = [0.5, 2 * 0.5 / 1.5, 2 * (2 / 3) / (5 / 3)]
    assert m["macro_f1"] == pytest.approx(np.mean(f1), abs=1e-6)
    assert m["per_class_accuracy"] == pytest.approx({"a": 0.5, "b": 1.0, "c": 2 / 3}, abs=1e-6)
    assert m["test_loss"] == pytest.approx(-(4 * np.log(0.8) + 2 * np.log(0.1)) / 6, abs=1e-6)

"""Stage 5, visualize: draws the PNG figures from the training and evaluation outputs.

Reads the training history (metrics/train/, metrics/train_speed/: mnist_pipeline.history),
plots/predictions.csv, plots/reliability.csv, metrics/evaluate/metrics.json, data/prepared/x_test.npy,
models/model.keras (first-layer filters) and params `dataset.class_names` and `visualize`; each checked first
(mnist_pipeline.metrics, history, files: one line naming the file).
Writes plots/figures/: accuracy.png, loss.png, confusion_matrix.png, sample_predictions.png,
mistakes.png, per_class_accuracy.png, filters.png, reliability.png.
"""
import sys

import numpy as np

from mnist_pipeline import figures
from mnist_pipeline.calibration import RELIABILITY_COLUMNS, RELIABILITY_PLOT
from mnist_pipeline.data import load_split
from mnist_pipeline.files import atomic_directory, read_table
from mnist_pipeline.history import read_history
from mnist_pipeline.metrics import MISSING, read_evaluation, read_predictions
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import EVALUATE_METRICS, FIGURES_DIR, MODEL_FILE, PREDICTIONS_PLOT, PREPARED_DIR
from mnist_pipeline.stage import run_stage


def first_conv_kernels(path, num_classes):
    """The first convolution layer's kernel weights from the saved model (its first member, if an ensemble)."""
    from mnist_pipeline.model import ensemble_members, load_model
    network = ensemble_members(load_model(path, num_classes))[0]
    first = next(layer for layer in network.layers if layer.name.endswith("conv1"))
    return np.asarray(first.kernel)


def main():
    params = load_params("dataset.class_names", "visualize")
    class_names, vis = params.dataset.class_names, params.visualize
    history = read_history()
    x_test, _ = load_split(PREPARED_DIR, "test", num_classes=len(class_names))
    predictions = read_predictions(PREDICTIONS_PLOT, len(class_names), len(x_test))
    evaluation = read_evaluation(EVALUATE_METRICS, class_names, ("test_ece", "test_ece_calibrated"))
    per_class = evaluation["per_class_accuracy"]
    reliability = read_table(RELIABILITY_PLOT, RELIABILITY_COLUMNS, missing_hint=MISSING,
                             numbers=RELIABILITY_COLUMNS[1:])
    samples = predictions.head(vis.sample_count)
    mistakes = predictions[predictions.actual != predictions.predicted]
    mistakes = mistakes.sort_values("confidence", ascending=False, kind="stable").head(vis.mistake_count)

    def grid(rows, title):
        return figures.digit_grid(x_test[rows["index"]], rows["actual"].to_numpy(), rows["predicted"].to_numpy(),
                                  rows["confidence"].to_numpy(), class_names, title)

    drawings = {
        "accuracy.png": lambda: figures.curves(history, "accuracy", "Accuracy per epoch", "accuracy"),
        "loss.png": lambda: figures.curves(history, "loss", "Loss per epoch (both include label smoothing)",
                                           "cross-entropy loss"),
        "confusion_matrix.png": lambda: figures.confusion_heatmap(predictions["actual"], predictions["predicted"],
                                                                  class_names),
        "sample_predictions.png": lambda: grid(samples, f"First {len(samples)} test digits: true→predicted "
                                                        "(confidence); mistakes in red"),
        "mistakes.png": lambda: grid(mistakes, f"The {len(mistakes)} most confident mistakes: true→predicted "
                                               "(confidence)"),
        "per_class_accuracy.png": lambda: figures.per_class_bars(per_class),
        "filters.png": lambda: figures.first_layer_filters(kernels),
        "reliability.png": lambda: figures.reliability_diagram(reliability, {
            "before": evaluation["test_ece"], "after": evaluation["test_ece_calibrated"]}),
    }
    with atomic_directory(FIGURES_DIR) as folder:  # checked now; replaces plots/figures once every figure is drawn
        kernels = first_conv_kernels(MODEL_FILE, len(class_names))  # last: TensorFlow takes seconds to load
        for name, draw in drawings.items():
            figures.save(draw(), folder / name, vis.dpi)
            print(f"wrote {FIGURES_DIR / name}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

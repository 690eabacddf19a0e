"""Stage 4, evaluate: measures the trained model on the test split.

Reads models/model.keras, its temperature models/calibration.json (the calibrate stage), data/prepared/
{x,y}_test.npy and params `dataset.class_names`, `evaluate` (batch size; the test-time shift: predictions are
averaged over each image and copies of it shifted that many pixels, see mnist_pipeline.shifts.shifted_views) and
`confidence.bins`. Writes two DVCLive summaries (mnist_pipeline.tracking): metrics/evaluate/metrics.json (test
loss and accuracy, macro precision, recall and F1, per-class accuracy, misclassified count, the temperature and
the expected calibration error before and after it) and metrics/evaluate_speed/metrics.json (images per
second); plots/predictions.csv (for each test image: actual, predicted, calibrated confidence), which dvc.yaml
draws as the confusion matrix; and plots/reliability.csv (the reliability diagram's bins before and after the
temperature: mnist_pipeline.calibration).
"""
import sys
import time

import numpy as np
import pandas as pd

from mnist_pipeline.calibration import (CALIBRATION_FILE, RELIABILITY_COLUMNS, RELIABILITY_PLOT, apply_temperature,
                                        calibration_errors, read_calibration)
from mnist_pipeline.data import load_split
from mnist_pipeline.files import write_text
from mnist_pipeline.metrics import classification_metrics
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import EVALUATE_LOG, EVALUATE_SPEED_LOG, MODEL_FILE, PREDICTIONS_PLOT, PREPARED_DIR
from mnist_pipeline.stage import run_stage


def main():
    params = load_params("dataset.class_names", "evaluate", "confidence.bins")
    class_names = params.dataset.class_names
    x_test, y_test = load_split(PREPARED_DIR, "test", num_classes=len(class_names))
    temperature = read_calibration(CALIBRATION_FILE, MODEL_FILE)["temperature"]

    from mnist_pipeline.model import load_model, predict_probabilities
    from mnist_pipeline.tracking import write_summary
    model = load_model(MODEL_FILE, len(class_names))
    model.predict(x_test[:1], verbose=0)  # build the predict function before timing
    start = time.perf_counter()
    probabilities = predict_probabilities(model, x_test, params.evaluate.batch_size,
                                          params.evaluate.test_time_shift_px)
    seconds = time.perf_counter() - start

    calibrated = apply_temperature(probabilities, temperature)
    ece_before, bins_before = calibration_errors(probabilities, y_test, params.confidence.bins)
    ece_after, bins_after = calibration_errors(calibrated, y_test, params.confidence.bins)

    results = classification_metrics(y_test, probabilities, class_names)
    results.update(temperature=temperature, test_ece=round(ece_before, 6), test_ece_calibrated=round(ece_after, 6))
    write_summary(EVALUATE_LOG, results)
    write_summary(EVALUATE_SPEED_LOG, {"eval_images_per_second": round(len(x_test) / seconds, 1)})
    predictions = pd.DataFrame({"index": np.arange(len(y_test)), "actual": y_test,
                                "predicted": probabilities.argmax(axis=1),
                                "confidence": calibrated.max(axis=1).round(6)})
    write_text(PREDICTIONS_PLOT, predictions.to_csv(index=False))
    reliability = [{"calibration": name, **row} for name, rows in (("before", bins_before), ("after", bins_after))
                   for row in rows]
    write_text(RELIABILITY_PLOT, pd.DataFrame(reliability, columns=RELIABILITY_COLUMNS).to_csv(index=False))
    print(f"test accuracy {results['test_accuracy']:.4%}, {results['misclassified']} misclassified; "
          f"ECE {ece_before:.4f}, {ece_after:.4f} after temperature {temperature:.4f}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

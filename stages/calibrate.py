"""Stage, calibrate: fits the temperature that makes the model's confidence mean what it says.

Reads models/model.keras, the validation split data/prepared/{x,y}_val.npy (never the test split) and params
`dataset.class_names`, `evaluate.batch_size` and `evaluate.test_time_shift_px` (the model's probabilities are
computed as the evaluate stage and predict.py compute them), `confidence.bins` and `confidence.unsure_below`.
Writes models/calibration.json (mnist_pipeline.calibration): the temperature, the unsure level, the model file's
SHA-256, and the validation ECE, negative log-likelihood and reliability bins before and after the temperature.
"""
import sys

from mnist_pipeline.calibration import CALIBRATION_FILE, calibration_record
from mnist_pipeline.data import load_split
from mnist_pipeline.files import write_json
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import MODEL_FILE, PREPARED_DIR
from mnist_pipeline.stage import run_stage


def main():
    params = load_params("dataset.class_names", "evaluate.batch_size", "evaluate.test_time_shift_px",
                         "confidence.bins", "confidence.unsure_below")
    class_names, evaluate, confidence = params.dataset.class_names, params.evaluate, params.confidence
    x_val, y_val = load_split(PREPARED_DIR, "val", num_classes=len(class_names))

    from mnist_pipeline.model import load_model, predict_probabilities
    model = load_model(MODEL_FILE, len(class_names))
    probabilities = predict_probabilities(model, x_val, evaluate.batch_size, evaluate.test_time_shift_px)
    record = calibration_record(MODEL_FILE, probabilities, y_val, confidence.bins, confidence.unsure_below)
    write_json(CALIBRATION_FILE, record)
    print(f"temperature {record['temperature']:.4f}: validation ECE {record['validation_ece_before']:.4f} before, "
          f"{record['validation_ece_after']:.4f} after ({len(y_val):,} images); wrote {CALIBRATION_FILE}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

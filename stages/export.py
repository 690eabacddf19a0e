"""Stage export: the trained model as a LiteRT flatbuffer for predict.py and the demo server, checked on the test split.

Reads models/model.keras and data/prepared/{x,y}_test.npy. Writes models/model.tflite (float32, no quantisation;
it loads without TensorFlow: mnist_pipeline.predict.runtime) and metrics/export.json: both files' SHA-256, the
export's size, and how it agrees with the Keras model on the test images (argmax disagreements, max |delta p|,
the largest difference of a penultimate feature or activation, the not-a-digit detector's inputs, relative to the
largest, its test accuracy). When the export disagrees on more than MAX_DISAGREEMENTS of the images, by more than
MAX_ABS_DELTA_P on any probability or by more than MAX_RELATIVE_DELTA_FEATURES on those inputs, the stage fails
with one line and leaves both outputs as they were.
"""
import sys

import numpy as np

from mnist_pipeline.data import load_split
from mnist_pipeline.export import agreement, export_record, exported_litert
from mnist_pipeline.files import write_json
from mnist_pipeline.paths import MODEL_FILE, PREPARED_DIR
from mnist_pipeline.predict.runtime import (EXPORT_METRICS, EXPORTED_MODEL_FILE, KerasClassifier, LiteRTClassifier,
                                            predict_probabilities)
from mnist_pipeline.stage import PipelineError, run_stage

BATCH_SIZE = 256
MAX_DISAGREEMENTS = 0.001  # of the test images: a float32 export differs from Keras by rounding only (~1e-6)
MAX_ABS_DELTA_P = 1e-4
MAX_RELATIVE_DELTA_FEATURES = 1e-4


class ExportError(PipelineError):
    """The export does not answer as the trained model does."""


def detector_inputs(classifier, images):
    """The features and activations of `images` side by side, as the not-a-digit detector reads them."""
    features, _, _, activations = classifier.heads(images)
    return np.column_stack([features, activations])


def main():
    x_test, y_test = load_split(PREPARED_DIR, "test")
    model = KerasClassifier(MODEL_FILE)
    reference = predict_probabilities(model, x_test, BATCH_SIZE), detector_inputs(model, x_test)
    with exported_litert(model.model, EXPORTED_MODEL_FILE) as exported:
        litert = LiteRTClassifier(exported)
        checks = agreement(reference, (predict_probabilities(litert, x_test, BATCH_SIZE), detector_inputs(litert, x_test)),
                           y_test)
        if (checks["argmax_disagreements"] > MAX_DISAGREEMENTS * len(y_test)
                or checks["max_abs_delta_p"] > MAX_ABS_DELTA_P
                or checks["max_relative_delta_features"] > MAX_RELATIVE_DELTA_FEATURES):
            raise ExportError(f"{MODEL_FILE}: its LiteRT export disagrees with it on the test split "
                              f"({checks['argmax_disagreements']} of {len(y_test)} digits differ, max |delta p| "
                              f"{checks['max_abs_delta_p']:.2e}, features {checks['max_relative_delta_features']:.2e}; "
                              f"allowed: {MAX_DISAGREEMENTS:.1%}, {MAX_ABS_DELTA_P:g} and "
                              f"{MAX_RELATIVE_DELTA_FEATURES:g})")
    write_json(EXPORT_METRICS, export_record(MODEL_FILE, EXPORTED_MODEL_FILE, checks))
    print(f"{EXPORTED_MODEL_FILE}: {checks['argmax_disagreements']} of {len(y_test)} test digits differ from "
          f"{MODEL_FILE}, max |delta p| {checks['max_abs_delta_p']:.2e}, test accuracy {checks['test_accuracy']:.4%}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

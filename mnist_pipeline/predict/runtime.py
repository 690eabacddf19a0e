"""The classifier behind predict.py and the demo server: the trained model's LiteRT export, or a Keras file.

Reads a model file and tells its kind by its content: a LiteRT flatbuffer (the export stage's
models/model.tflite) runs on ai-edge-litert's interpreter, which loads in milliseconds without
TensorFlow; a Keras zip archive (.keras) loads with Keras, importing TensorFlow (seconds).
`load_classifier(path)` returns classify(batch), (N, 28, 28, 1) float32 -> (N, 10) probabilities, whose
`heads(images)` also gives the penultimate features, logits and activations the not-a-digit detector reads;
mnist_pipeline.shifts.predict_probabilities(classify, images, batch_size, shift_px) averages it
over test-time shifts as the evaluate stage does. `source_model(path, root)` names the Keras file an export was made
from, as the export stage's record (metrics/export.json) says, so that its calibration and test
accuracy apply to the export. A missing or unusable file is a ClassifierFileError (one line).
"""
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from mnist_pipeline.calibration import file_sha256
from mnist_pipeline.files import open_input
from mnist_pipeline.shifts import predict_probabilities  # noqa: F401 (the export stage's)
from mnist_pipeline.silence import stderr_discarded
from mnist_pipeline.stage import PipelineError

EXPORTED_MODEL_FILE = Path("models/model.tflite")
EXPORT_METRICS = Path("metrics/export.json")
LITERT_IDENTIFIER = b"TFL3"  # a flatbuffer's file identifier, bytes 4-8 of a .tflite file
INPUT_SHAPE, NUM_CLASSES = (28, 28, 1), 10
OUTPUTS = ("probabilities", "features", "logits", "activations")  # the export's signature (mnist_pipeline.export)


class ClassifierFileError(PipelineError, ValueError):
    """A model file is missing, of an unknown kind, damaged, or of the wrong shape."""


def model_format(path):
    """"litert" or "keras" by the file's first bytes; ClassifierFileError (or files.InputError) otherwise."""
    with open_input(path, missing_hint="run `dvc repro` to train one") as file:
        if zipfile.is_zipfile(file):
            return "keras"
        file.seek(0)
        if file.read(8)[4:8] == LITERT_IDENTIFIER:
            return "litert"
    if Path(path).suffix == ".keras":
        raise ClassifierFileError(f"{path}: not a Keras model (.keras files are zip archives)")
    raise ClassifierFileError(f"{path}: not a model: expected a LiteRT flatbuffer (.tflite, from the export stage) "
                              "or a Keras zip archive (.keras)")


def load_classifier(path):
    """The classifier of the model file at `path`: KerasClassifier or LiteRTClassifier, by its content."""
    return KerasClassifier(path) if model_format(path) == "keras" else LiteRTClassifier(path)


class KerasClassifier:
    """A .keras model on Keras (imports TensorFlow). classify(batch) -> probabilities; heads(images) -> what
    mnist_pipeline.not_a_digit.outputs gives: (features, logits, probabilities, activations)."""

    def __init__(self, path):
        with stderr_discarded():  # TensorFlow's start-up lines and Keras's warnings would bury the one-line errors
            from mnist_pipeline.model import load_model
            self.model = load_model(path, NUM_CLASSES)

    def __call__(self, batch):
        return np.asarray(self.model.predict_on_batch(batch))

    def heads(self, images):
        from mnist_pipeline.not_a_digit import outputs
        return outputs(self.model, images)


class LiteRTClassifier:
    """An export of stages/export.py on ai-edge-litert's interpreter (XNNPACK kernels); one caller at a time.

    The export's signature maps `image` (N, 28, 28, 1) to `probabilities` (N, 10), the penultimate
    `features` (N, F; each ensemble member's, side by side) and each member's `logits` (N, members, 10).
    """

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter
        try:
            interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count())
            signature = interpreter.get_signature_list().get("serving_default", {})
            if signature.get("inputs") != ["image"] or sorted(signature.get("outputs", [])) != sorted(OUTPUTS):
                raise ValueError(f"its signature is {signature or 'missing'}; expected image -> {', '.join(OUTPUTS)} "
                                 "(an export of stages/export.py)")
            self.run = interpreter.get_signature_runner("serving_default")
        except (ValueError, RuntimeError) as err:
            raise ClassifierFileError(f"{path}: cannot load the LiteRT model ({str(err).splitlines()[0]})") from None
        image = self.run.get_input_details()["image"]["shape_signature"].tolist()
        probabilities = self.run.get_output_details()["probabilities"]["shape_signature"].tolist()
        if tuple(image[1:]) != INPUT_SHAPE or probabilities[-1] != NUM_CLASSES:
            raise ClassifierFileError(f"{path}: model maps {tuple(image)} to {tuple(probabilities)}; "
                                      "expected (-1, 28, 28, 1) to (-1, 10)")
        try:
            with stderr_discarded():  # LiteRT announces its XNNPACK delegate on descriptor 2 when it first allocates
                self(np.zeros((1, *INPUT_SHAPE), np.float32))
        except RuntimeError as err:  # e.g. TensorFlow ops LiteRT's builtin set lacks (a bfloat16 export)
            raise ClassifierFileError(f"{path}: cannot run the LiteRT model ({str(err).splitlines()[0]})") from None

    def __call__(self, batch):
        return self.run(image=np.ascontiguousarray(batch, dtype=np.float32))["probabilities"]

    def heads(self, images):
        """The outputs of mnist_pipeline.not_a_digit.outputs, from the export."""
        from mnist_pipeline.not_a_digit import batched_outputs
        return batched_outputs(lambda batch: self.run(image=np.ascontiguousarray(batch)), images)


def source_model(path, root):
    """The Keras file (under `root`) that the model at `path` was exported from, when `root`'s export record
    (metrics/export.json) names both files with their current hashes; else `path` itself."""
    try:
        record = json.loads((root / EXPORT_METRICS).read_text())
        source = root / record["source"]
        if file_sha256(path) == record["exported_sha256"] and file_sha256(source) == record["source_sha256"]:
            return source
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no record, or one of another export: the file stands for itself
    return path

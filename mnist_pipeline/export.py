"""The trained Keras model as a LiteRT flatbuffer (.tflite), and how closely the export agrees with it.

`export_litert(model, path)` writes the float32 export (Keras's LiteRT export: TensorFlow's converter, no
quantisation) atomically; `agreement(reference, exported, labels)` compares the two models' probabilities on
the same images; `export_record(...)` is the content of metrics/export.json, which names the source and
exported files by SHA-256 (mnist_pipeline.predict.runtime.source_model reads it back).
"""
import contextlib
import io

import numpy as np

from mnist_pipeline.calibration import file_sha256
from mnist_pipeline.files import atomic_path


@contextlib.contextmanager
def exported_litert(model, path):
    """Yields a temporary .tflite export of `model` beside `path`, renamed onto `path` if the block succeeds
    (a check that raises inside it leaves `path` as it was)."""
    with atomic_path(path) as tmp, contextlib.redirect_stdout(io.StringIO()):  # Keras prints "Saved artifact at"
        model.export(str(tmp), format="litert", verbose=False)
        yield tmp


def agreement(reference, exported, labels):
    """{test_images, argmax_disagreements, max_abs_delta_p, test_accuracy (of the export)} for (N, 10)
    probabilities of the same images from the reference model and its export."""
    return {"test_images": len(labels),
            "argmax_disagreements": int((reference.argmax(1) != exported.argmax(1)).sum()),
            "max_abs_delta_p": float(np.abs(reference - exported).max()),
            "test_accuracy": round(float((exported.argmax(1) == labels).mean()), 6)}


def export_record(source, exported, checks):
    """metrics/export.json: the source and exported files (as given: the stage's are relative to the repository)
    with their SHA-256, the export's size, and the agreement `checks`."""
    return {"source": str(source), "source_sha256": file_sha256(source),
            "exported": str(exported), "exported_sha256": file_sha256(exported),
            "exported_bytes": exported.stat().st_size, "runtime": "ai-edge-litert", **checks}

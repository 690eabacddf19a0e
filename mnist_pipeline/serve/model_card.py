"""Which model answers: the served model file's hash and date, and its test accuracy where it is known.

`describe_model(model_path, root)` reads the model file, the repository's dvc.lock and the evaluate
stage's metrics and returns a dict for the page and the health endpoint. The test accuracy is
given only when dvc.lock records that the evaluate stage measured this very file (same MD5), so a
retrained or foreign model is never shown with another model's score. An export of the export stage
carries the score of the Keras file it was made from while both are the files its record names
(runtime.source_model).
"""
import hashlib
import json
from datetime import datetime, timezone

import yaml

from mnist_pipeline.paths import EVALUATE_METRICS, MODEL_FILE
from mnist_pipeline.predict.runtime import EXPORT_METRICS, source_model


def describe_model(model_path, root):
    """{file, sha256 (first 12 hex digits), modified (UTC), test_accuracy (or None), accuracy_note}."""
    data = model_path.read_bytes()
    source = source_model(model_path, root)
    accuracy, note = evaluated_accuracy(hashlib.md5(source.read_bytes()).hexdigest(), root)
    if source != model_path and accuracy is not None:
        note += f", of {source.relative_to(root)}, which this file exports ({EXPORT_METRICS})"
    modified = datetime.fromtimestamp(model_path.stat().st_mtime, timezone.utc)
    return {"file": model_path.name, "sha256": hashlib.sha256(data).hexdigest()[:12],
            "modified": modified.strftime("%Y-%m-%d %H:%M UTC"), "test_accuracy": accuracy, "accuracy_note": note}


def evaluated_accuracy(model_md5, root):
    """(test accuracy, where it comes from) of the model whose file has this MD5, or (None, why not)."""
    try:
        lock = yaml.safe_load((root / "dvc.lock").read_text())
        deps = lock["stages"]["evaluate"]["deps"]
        metrics = json.loads((root / EVALUATE_METRICS).read_text())
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None, f"not known: no evaluate stage results in dvc.lock and {EVALUATE_METRICS}"
    evaluated = next((dep.get("md5") for dep in deps if dep.get("path") == str(MODEL_FILE)), None)
    if evaluated != model_md5:
        return None, f"not known: {EVALUATE_METRICS} belongs to another model file (run `dvc repro`)"
    return metrics.get("test_accuracy"), f"{EVALUATE_METRICS}, on the 10,000 MNIST test digits"

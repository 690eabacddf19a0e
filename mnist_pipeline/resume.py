"""Resumable training: a checkpoint after every epoch, restored by the next run with the same params.

The checkpoint directory holds `epoch-<n>.keras` (model with optimizer state) and `state.json`
(params fingerprint, last finished epoch, the history so far). state.json is written last and
atomically, so it always names a complete model file; a run killed at any moment resumes from the
last finished epoch. A checkpoint made with other params or data is discarded.
"""
import hashlib
import json
import shutil
from pathlib import Path

from mnist_pipeline.files import atomic_path, write_json
from mnist_pipeline.tf_runtime import keras

STATE = "state.json"


def fingerprint(*parts):
    """A short hash of everything that determines the training run (params, data sizes)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def restore(directory, expected_fingerprint):
    """(model, finished epochs, history rows) from a matching checkpoint, or None (and the directory cleared)."""
    state_file = Path(directory) / STATE
    try:
        state = json.loads(state_file.read_text())
        if state["fingerprint"] == expected_fingerprint:
            model = keras.models.load_model(Path(directory) / state["model"], safe_mode=True)
            return model, state["epoch"], state["history"]
    except (OSError, ValueError, KeyError):
        pass  # no checkpoint, or an unusable one: start afresh
    clear(directory)
    return None


def clear(directory):
    """Removes the checkpoint directory (after a finished run, or when it no longer matches)."""
    shutil.rmtree(directory, ignore_errors=True)


# Not keras.callbacks.BackupAndRestore: it keeps no history rows and no params fingerprint, and it restores
# inside fit(), after the input pipeline (which starts at the resumed epoch) has been built.
class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model, its optimizer state and the history rows at the end of every epoch."""

    def __init__(self, directory, run_fingerprint, history):
        super().__init__()
        self.directory, self.fingerprint, self.history = Path(directory), run_fingerprint, list(history)

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
        name = f"epoch-{epoch + 1}.keras"
        with atomic_path(self.directory / name) as tmp:
            self.model.save(tmp)
        write_json(self.directory / STATE, {"fingerprint": self.fingerprint, "epoch": epoch + 1, "model": name,
                                            "history": self.history})
        for old in self.directory.glob("epoch-*.keras"):
            if old.name != name:
                old.unlink()

"""Trains the project's CNN with the fast recipe (presets/fast.yaml over params.yaml) on real MNIST and saves it.

    python tests/fast_mnist_model.py MNIST_DIR OUT.keras

Reads the four MNIST IDX .gz files in MNIST_DIR; the last 5,000 training digits are the validation
set. Writes the model to OUT.keras (99.16% test accuracy; about 2 CPU-minutes). Run as its own
process by the `real_mnist_model_file` fixture, so the seeds and dtype policy of training stay out
of the test process.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VALIDATION_DIGITS = 5000


def train_fast_model(mnist_dir, out_path):
    """Trains the fast recipe on the MNIST training digits in mnist_dir and saves the model to out_path."""
    from mnist_pipeline.params import load_params, merge_preset
    from mnist_pipeline.predict.styles import load_mnist
    from mnist_pipeline.training import train_model

    params = merge_preset(load_params("model", "train", path=ROOT / "params.yaml"), ROOT / "presets" / "fast.yaml")
    images, labels = load_mnist(mnist_dir, "train")
    x = images[..., np.newaxis].astype(np.float32) / 255
    split = len(x) - VALIDATION_DIGITS
    model, _ = train_model(params.model, params.train, 10,
                           (x[:split], labels[:split]), (x[split:], labels[split:]), verbose=0)
    model.save(out_path)


if __name__ == "__main__":
    train_fast_model(Path(sys.argv[1]), Path(sys.argv[2]))

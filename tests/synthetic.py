"""Small generated IDX datasets for the tests: ten learnable classes of 28x28 images, no real data."""
import gzip
import hashlib
from pathlib import Path

import numpy as np

from mnist_pipeline.idx import encode_idx

FILE_NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
              "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def make_images(labels, seed):
    """Each class is a bright bar at its own angle, jittered in position, plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28] - 13.5
    images = np.empty((len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        angle = np.pi * label / 10
        dx, dy = rng.uniform(-2, 2, size=2)
        distance = np.abs((xx - dx) * np.sin(angle) - (yy - dy) * np.cos(angle))
        along = np.abs((xx - dx) * np.cos(angle) + (yy - dy) * np.sin(angle))
        bar = (distance < 2.0) & (along < 9)
        images[i] = np.clip(bar * 230 + rng.normal(0, 12, (28, 28)), 0, 255).astype(np.uint8)
    return images


def write_dataset(directory, n_train=600, n_test=200, seed=0):
    """Writes the four gzipped IDX files into `directory`; returns {key: (name, sha256 of content)}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_labels = rng.integers(0, 10, n_train).astype(np.uint8)
    test_labels = rng.integers(0, 10, n_test).astype(np.uint8)
    arrays = {"train_images": make_images(train_labels, seed + 1), "train_labels": train_labels,
              "test_images": make_images(test_labels, seed + 2), "test_labels": test_labels}
    files = {}
    for key, array in arrays.items():
        content = encode_idx(array)
        (directory / FILE_NAMES[key]).write_bytes(gzip.compress(content, mtime=0))
        files[key] = {"name": FILE_NAMES[key], "sha256": hashlib.sha256(content).hexdigest()}
    return files


def write_not_digits(directory, count=60, seed=5):
    """Writes a tiny stand-in for Fashion-MNIST's test images (grey noise) into `directory` under its file name;
    returns its params entry {name, sha256 of content}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    content = encode_idx(np.random.default_rng(seed).integers(0, 256, (count, 28, 28), dtype=np.uint8))
    (directory / FILE_NAMES["test_images"]).write_bytes(gzip.compress(content, mtime=0))
    return {"name": FILE_NAMES["test_images"], "sha256": hashlib.sha256(content).hexdigest()}

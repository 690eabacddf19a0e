"""The prepared arrays: normalising images, the stratified split, and saving/loading `data/prepared`.

Each split is two .npy files: `x_<split>.npy` (N, 28, 28, 1) float32 in [0, 1] and `y_<split>.npy`
(N,) uint8 labels. They load with allow_pickle=False, so no code can run from a data file.
"""
import math
import os
from pathlib import Path

import numpy as np

from mnist_pipeline.files import open_input, save_array
from mnist_pipeline.stage import PipelineError

IMAGE_SHAPE = (28, 28, 1)
MISSING_HINT = "run the preprocess stage first (dvc repro)"
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class DataError(PipelineError, ValueError):
    """A prepared array file is malformed, or holds values the pipeline cannot use."""


def normalise(images):
    """uint8 (N, H, W) images → float32 (N, H, W, 1) in [0, 1], the shape the CNN takes."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def stratified_split(labels, val_fraction, seed):
    """Seeded split of indices into (train, val) keeping each class's share in both; sorted indices."""
    rng = np.random.default_rng(seed)
    val = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        val.append(members[:round(len(members) * val_fraction)])
    val = np.sort(np.concatenate(val))
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def save_split(directory, split, x, y):
    """Writes one split's arrays atomically."""
    save_array(Path(directory) / f"x_{split}.npy", x)
    save_array(Path(directory) / f"y_{split}.npy", y)


def load_split(directory, split, num_classes=None):
    """Returns (x, y) of one split, checked before any use: DataError (or InputError) names the file and problem.

    x must be (N, 28, 28, 1) floats in [0, 1] with N > 0, y (N,) integer labels (in 0..num_classes-1
    when num_classes is given).
    """
    x_path, y_path = (Path(directory) / f"{kind}_{split}.npy" for kind in ("x", "y"))
    x, y = load_array(x_path), load_array(y_path)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{x_path}: shape {x.shape}; expected images of shape (N, 28, 28, 1)")
    if x.dtype.kind != "f":
        raise DataError(f"{x_path}: dtype {x.dtype}; expected float pixel values in [0, 1]")
    if not len(x):
        raise DataError(f"{x_path}: holds no images")
    if y.ndim != 1:
        raise DataError(f"{y_path}: shape {y.shape}; expected labels of shape (N,)")
    if y.dtype.kind not in "iu":
        raise DataError(f"{y_path}: dtype {y.dtype}; expected integer labels")
    if len(x) != len(y):
        raise DataError(f"{y_path}: {len(y)} labels but {x_path} has {len(x)} images")
    low, high = x.min(), x.max()
    if not 0 <= low <= high <= 1:  # also false when there is a NaN
        found = "NaN" if np.isnan(low) or np.isnan(high) else f"values from {low:g} to {high:g}"
        raise DataError(f"{x_path}: pixel values must be in [0, 1]; found {found}")
    if y.min() < 0:
        raise DataError(f"{y_path}: label {y.min()} is negative")
    if num_classes is not None and y.max() >= num_classes:
        raise DataError(f"{y_path}: label {y.max()} is outside the class range 0..{num_classes - 1}")
    return x, y


def load_array(path):
    """Loads one .npy file without pickles, checking its header against its size before reading the data."""
    with open_input(path, MISSING_HINT) as file:
        try:
            version = np.lib.format.read_magic(file)
            if version not in HEADER_READERS:
                raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
            shape, fortran_order, dtype = HEADER_READERS[version](file)
            if dtype.hasobject:
                raise ValueError("it holds Python objects, which are never loaded (pickle)")
            expected = file.tell() + dtype.itemsize * math.prod(shape)
            size = os.fstat(file.fileno()).st_size
            if size != expected:
                raise ValueError(f"{size} bytes but its header {dtype} {shape} needs {expected}; "
                                 f"{'truncated' if size < expected else 'trailing data'}")
            file.seek(0)
            return np.load(file, allow_pickle=False)
        except (ValueError, EOFError) as err:
            raise DataError(f"{path}: not a valid NumPy array file ({err})") from None

"""The prepared arrays: normalising images, the stratified split, and saving/loading `data/prepared`.

Each split is two .npy files: `x_<split>.npy` (N, 28, 28, 1) float32 in [0, 1] and `y_<split>.npy`
(N,) uint8 labels. They load with allow_pickle=False, so no code can run from a data file.
"""
from pathlib import Path

import numpy as np

from mnist_pipeline.files import save_array
from mnist_pipeline.stage import PipelineError


class DataError(PipelineError, ValueError):
    """A prepared array file is missing, unreadable or of the wrong shape."""


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


def load_split(directory, split):
    """Returns (x, y) of one split; DataError names a missing or malformed file."""
    arrays = []
    for kind in ("x", "y"):
        path = Path(directory) / f"{kind}_{split}.npy"
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except FileNotFoundError:
            raise DataError(f"{path}: not found; run the preprocess stage first (dvc repro)") from None
        except ValueError as err:
            raise DataError(f"{path}: not a valid NumPy array file ({err})") from None
    x, y = arrays
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1) or len(x) != len(y):
        raise DataError(f"{directory}: x_{split} {x.shape} and y_{split} {y.shape} do not match (N, 28, 28, 1) and (N,)")
    return x, y

"""The corruption suite: the registry name -> function, which corruptions each part of the training
augmentation does in kind, the seeded test subset and each corruption's own random stream.

Reads and writes no files. `corrupt(name, images, seed)` returns the images corrupted by `name`, the same for
the same seed whatever else the suite holds or in what order it runs.
"""
import zlib

import numpy as np

from mnist_pipeline.robustness.blur import canny_edges, glass_blur, motion_blur
from mnist_pipeline.robustness.geometry import rotate, scale, shear, translate
from mnist_pipeline.robustness.noise import brightness, fog, impulse_noise, shot_noise
from mnist_pipeline.robustness.overlays import dotted_line, spatter, stripe, zigzag

# MNIST-C's 15 corruptions in the paper's order, by their names there.
CORRUPTIONS = {function.__name__: function for function in (
    shot_noise, impulse_noise, glass_blur, motion_blur, shear, scale, rotate, brightness, translate, stripe, fog,
    spatter, dotted_line, zigzag, canny_edges)}
# The corruptions of the same kind as each part of the training augmentation (mnist_pipeline/augment.py), by
# the `train.augment` field doing it. Those of the parts a model was trained with stay in the suite but out of
# its headline mean, which measures what training never showed the model.
IN_KIND = {"rotation_deg": ("rotate",), "zoom": ("scale",), "shift_px": ("translate",), "stroke": (),
           "lines": ("dotted_line", "zigzag"), "blur": ("glass_blur", "motion_blur"), "erase_px": (),
           "contrast": ("brightness", "fog"), "noise": ("shot_noise", "impulse_noise")}


def in_training(augment):
    """{corruption: "train.augment.<field>"} for the corruptions that `augment` (schema.Augment) does in kind."""
    return {name: f"train.augment.{field}" for field, names in IN_KIND.items() if getattr(augment, field)
            for name in names}


def stream(seed, name):
    """The random Generator of one named part of the suite: fixed by `seed` and the name alone."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def corrupt(name, images, seed):
    """`images` float (n, 28, 28) in [0, 1] corrupted by CORRUPTIONS[name], with its own stream of `seed`."""
    return CORRUPTIONS[name](images, stream(seed, name))


def seeded_subset(total, count, seed):
    """Sorted indices of min(count, total) of `total` test images, drawn at random (fixed by seed)."""
    return np.sort(np.random.default_rng(seed).choice(total, size=min(count, total), replace=False))

"""Corruptions that move the digit: shear, scale, rotation and translation (MNIST-C, Mu & Gilmer 2019).

Each function takes images float (n, 28, 28) in [0, 1] and a numpy Generator and returns new float32 images
of the same shape in [0, 1], at the one severity MNIST-C uses for it. Every warp keeps the image centre in
place (except translation), samples bilinearly and fills what comes from outside with black.
"""
import numpy as np
from scipy import ndimage as ndi

SHEAR_RADIANS = 0.4       # either way at random
SCALE_FACTOR = 0.7        # the digit shrunk to 70% of its size
ROTATION_RADIANS = 0.4    # about 23 degrees, either way at random
TRANSLATION_PX = 3        # in both axes, each way at random


def _warp(images, matrices, shifts=None):
    """Each image warped by its 2x2 matrix (output (row, col) -> input, about the centre) plus its shift."""
    centre = (np.array(images.shape[1:]) - 1) / 2
    shifts = np.zeros((len(images), 2)) if shifts is None else shifts
    return np.clip(np.stack([ndi.affine_transform(image, matrix, offset=centre - matrix @ centre + shift, order=1,
                                                  mode="constant")
                             for image, matrix, shift in zip(images, matrices, shifts)]), 0, 1).astype(np.float32)


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def shear(images, rng):
    """Slanted by SHEAR_RADIANS (the rows slide sideways in proportion to their height), left or right."""
    angle = SHEAR_RADIANS * _signs(rng, len(images))
    return _warp(images, [np.array([[np.cos(a), 0], [-np.sin(a), 1]]) for a in angle])


def scale(images, rng):
    """Shrunk to SCALE_FACTOR of its size about the centre."""
    return _warp(images, [np.eye(2) / SCALE_FACTOR] * len(images))


def rotate(images, rng):
    """Turned by ROTATION_RADIANS about the centre, clockwise or anticlockwise."""
    angle = ROTATION_RADIANS * _signs(rng, len(images))
    return _warp(images, [np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) for a in angle])


def translate(images, rng):
    """Moved TRANSLATION_PX px up or down and TRANSLATION_PX px left or right."""
    return _warp(images, [np.eye(2)] * len(images), TRANSLATION_PX * _signs(rng, (len(images), 2)))

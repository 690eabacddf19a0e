"""Test-time shifts of 28x28 inputs in NumPy alone, for the classifiers that run without TensorFlow.

`shifted_views(images, shift_px)` gives the images and, when shift_px > 0, copies moved shift_px
pixels right, left, down and up (vacated pixels 0); averaging a model's outputs over them is the
test-time augmentation of the evaluate stage. The arithmetic is that of mnist_pipeline.model's
functions of the same names (tests/test_export.py checks they agree); model.py keeps its own copy
only because the train stage's code is frozen while the real model trains.
"""
import numpy as np


def shift_images(images, dx, dy):
    """`images` (N, H, W[, C]) moved dx pixels right and dy pixels down; vacated pixels are 0."""
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def shifted_views(images, shift_px):
    """The images, plus (when shift_px > 0) copies moved shift_px pixels right, left, down and up."""
    if shift_px == 0:
        return [images]
    return [images] + [shift_images(images, dx, dy) for dx, dy in
                       ((shift_px, 0), (-shift_px, 0), (0, shift_px), (0, -shift_px))]

"""Test-time shifts of 28x28 inputs, in NumPy alone (no TensorFlow), for every classifier.

`shifted_views(images, shift_px)` gives the images and, when shift_px > 0, copies moved shift_px
pixels right, left, down and up (vacated pixels 0); `predict_probabilities(classify, ...)` averages a
classifier's outputs over them: the test-time augmentation of the evaluate stage, predict.py and the
demo server (a Keras model through mnist_pipeline.model, a LiteRT export through predict/runtime.py).
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


def predict_probabilities(classify, images, batch_size, shift_px=0):
    """Probabilities (N, classes) of (N, 28, 28, 1) images from classify(batch), `batch_size` images at a time,
    averaged over `shifted_views`."""
    return np.mean([np.concatenate([classify(view[start:start + batch_size])
                                    for start in range(0, len(view), batch_size)])
                    for view in shifted_views(images, shift_px)], axis=0)

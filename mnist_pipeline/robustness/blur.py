"""Corruptions that filter a neighbourhood: glass blur, motion blur and Canny edges (MNIST-C, Mu & Gilmer 2019).

Each function takes images float (n, 28, 28) in [0, 1] and a numpy Generator and returns new float32 images
of the same shape in [0, 1], at the one severity MNIST-C uses for it.
"""
import numpy as np
from scipy import ndimage as ndi
from skimage.feature import canny

GLASS_SIGMA = 0.7         # Gaussian blur (px) before and after the pixels are shuffled
GLASS_DELTA = 1           # a shuffled pixel comes from at most this many px away, in each axis
GLASS_ROUNDS = 2
MOTION_LENGTH = 10        # px the trail reaches
MOTION_SIGMA = 3.0        # px: weights of the trail fall off as a Gaussian of this width
MOTION_MAX_ANGLE = 45     # degrees either side of horizontal


def _blur(images, sigma):
    return ndi.gaussian_filter(images, sigma=(0, sigma, sigma), mode="constant")


def glass_blur(images, rng):
    """Frosted glass: blurred, then in each of GLASS_ROUNDS every other pixel (at random) takes the value of a
    neighbour up to GLASS_DELTA px away, then blurred again."""
    out = _blur(images.astype(np.float64), GLASS_SIGMA)
    n, height, width = images.shape
    rows, cols = np.mgrid[0:height, 0:width]
    for _ in range(GLASS_ROUNDS):
        moved = rng.random(out.shape) < 0.5
        d_row, d_col = rng.integers(-GLASS_DELTA, GLASS_DELTA + 1, size=(2,) + out.shape)
        source_rows = np.clip(rows + d_row * moved, 0, height - 1)
        source_cols = np.clip(cols + d_col * moved, 0, width - 1)
        out = out[np.arange(n)[:, None, None], source_rows, source_cols]
    return np.clip(_blur(out, GLASS_SIGMA), 0, 1).astype(np.float32)


def motion_blur(images, rng):
    """A shaken camera: each image averaged along a trail MOTION_LENGTH px long at a random angle within
    MOTION_MAX_ANGLE of horizontal, the nearer points weighted more (Gaussian, MOTION_SIGMA)."""
    n, height, width = images.shape
    angle = np.deg2rad(rng.uniform(-MOTION_MAX_ANGLE, MOTION_MAX_ANGLE, size=n))[:, None, None]
    steps = np.arange(MOTION_LENGTH + 1)
    weights = np.exp(-steps ** 2 / (2 * MOTION_SIGMA ** 2))
    index, rows, cols = np.mgrid[0:n, 0:height, 0:width].astype(np.float64)
    out = np.zeros(images.shape)
    for step, weight in zip(steps, weights / weights.sum()):
        coordinates = [index, rows - step * np.sin(angle), cols - step * np.cos(angle)]
        out += weight * ndi.map_coordinates(images, coordinates, order=1, mode="constant")
    return np.clip(out, 0, 1).astype(np.float32)


def canny_edges(images, rng):
    """Only the outlines: the Canny edges (scikit-image, sigma 1) of each image, white on black."""
    return np.stack([canny(image) for image in images]).astype(np.float32)

"""Corruptions that change pixel values: shot and impulse noise, brightness and fog (MNIST-C, Mu & Gilmer 2019).

Each function takes images float (n, 28, 28) in [0, 1] and a numpy Generator and returns new float32 images
of the same shape in [0, 1], at the one severity MNIST-C uses for it.
"""
import numpy as np
from scipy import ndimage as ndi

SHOT_PHOTONS = 3          # photons per unit of intensity: a pixel becomes Poisson(3 x) / 3
IMPULSE_SHARE = 0.17      # share of pixels set to black or white (half each)
BRIGHTNESS_LIFT = 0.5     # added to every pixel
FOG_STRENGTH = 3.0        # fog brightness added before the image is scaled back to its own peak
FOG_DECAY = 1.4           # each finer octave of the fog is this much weaker
FOG_OCTAVES = 5           # grids of 3, 5, 9, 17 and 33 points


def shot_noise(images, rng):
    """Photon noise: each pixel counts Poisson(SHOT_PHOTONS x) photons; background stays black."""
    return np.clip(rng.poisson(images * SHOT_PHOTONS) / SHOT_PHOTONS, 0, 1).astype(np.float32)


def impulse_noise(images, rng):
    """Salt and pepper: IMPULSE_SHARE of the pixels become 0 or 1 at random."""
    hit = rng.random(images.shape) < IMPULSE_SHARE
    salt = rng.random(images.shape) < 0.5
    return np.where(hit, salt, images).astype(np.float32)


def brightness(images, rng):
    """Everything BRIGHTNESS_LIFT brighter: a grey background, the ink saturated."""
    return np.clip(images + BRIGHTNESS_LIFT, 0, 1).astype(np.float32)


def fog(images, rng):
    """Cloudy fractal noise (octaves of smooth noise, FOG_DECAY weaker each) added, then the image scaled
    back so its peak keeps its value: the digit loses most of its contrast."""
    n, height, width = images.shape
    cloud = np.zeros(images.shape)
    for octave in range(FOG_OCTAVES):
        points = 2 ** (octave + 1) + 1
        coarse = rng.normal(size=(n, points, points))
        cloud += ndi.zoom(coarse, (1, height / points, width / points), order=1, grid_mode=True,
                          mode="nearest")[:, :height, :width] / FOG_DECAY ** octave
    low = cloud.min(axis=(1, 2), keepdims=True)
    cloud = (cloud - low) / np.maximum(cloud.max(axis=(1, 2), keepdims=True) - low, 1e-12)
    peak = images.max(axis=(1, 2), keepdims=True)
    return np.clip((images + FOG_STRENGTH * cloud) * peak / (peak + FOG_STRENGTH), 0, 1).astype(np.float32)

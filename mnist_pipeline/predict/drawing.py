"""Drawing tools for the rendered test pictures: stroke masks made from an MNIST digit, paper,
board and shadow backgrounds, and ink laid on a background. Used by styles.py and the tests.

Stroke masks are float (H, W) in [0, 1], the digit's 28x28 field scaled so its 20 px box is
`height`; backgrounds are float (H, W, 3) in [0, 1]; `ink` returns an 8-bit RGB PIL image.
"""
import numpy as np
from PIL import Image
from scipy import ndimage as ndi

PEN = (30, 30, 45)
BLUE_PEN = (25, 45, 150)
RED_PEN = (195, 25, 35)
CHALK = (235, 235, 225)


# --- stroke masks: float (H, W) in [0, 1], the digit's 28x28 field scaled so its 20 px box is `height`

def natural_strokes(digit, height):
    """The MNIST digit's own strokes, upscaled smoothly and re-sharpened like ink."""
    size = round(28 * height / 20)
    grey = np.asarray(Image.fromarray(digit.astype(np.float32) / 255).resize((size, size), Image.Resampling.BICUBIC))
    return np.clip((grey - 0.4) / 0.2, 0, 1)


def pen_strokes(digit, height, width):
    """The digit's centre lines redrawn with a round pen `width` px wide (anti-aliased)."""
    skeleton = _thin(natural_strokes(digit, 80) > 0.5)
    distance = ndi.distance_transform_edt(~skeleton).astype(np.float32)
    size = round(28 * height / 20)
    distance = np.asarray(Image.fromarray(distance).resize((size, size), Image.Resampling.BILINEAR)) * size / 112
    return np.clip(width / 2 + 0.5 - distance, 0, 1)


def _thin(binary):
    """Zhang-Suen thinning of a binary image to one-pixel-wide centre lines."""
    img = np.pad(binary, 1).astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for first_pass in (True, False):
            p2, p3, p4, p5 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:], img[2:, 2:]
            p6, p7, p8, p9 = img[2:, 1:-1], img[2:, :-2], img[1:-1, :-2], img[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            neighbours = sum(ring[:8])
            transitions = sum((ring[i] == 0) & (ring[i + 1] == 1) for i in range(8))
            if first_pass:
                clear = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                clear = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (img[1:-1, 1:-1] == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & clear
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)


def place(strokes, canvas_shape, rng, margin=0.0):
    """Puts a stroke mask into a canvas of canvas_shape at a random position keeping `margin` (fraction)."""
    canvas = np.zeros(canvas_shape, dtype=np.float32)
    free_y, free_x = canvas_shape[0] - strokes.shape[0], canvas_shape[1] - strokes.shape[1]
    top = rng.integers(int(free_y * margin), int(free_y * (1 - margin)) + 1)
    left = rng.integers(int(free_x * margin), int(free_x * (1 - margin)) + 1)
    canvas[top:top + strokes.shape[0], left:left + strokes.shape[1]] = strokes
    return canvas


def rotate(strokes, degrees):
    """Rotates a stroke mask about its centre (bilinear, same size)."""
    return np.asarray(Image.fromarray(strokes).rotate(degrees, Image.Resampling.BILINEAR))


# --- backgrounds: float (H, W, 3) in [0, 1]

def paper(shape, rng):
    """Off-white paper reflectance with fibre texture."""
    tint = np.array([0.97, 0.95, 0.89]) * rng.uniform(0.85, 1.0)
    texture = ndi.gaussian_filter(rng.normal(0, 1, shape), 1.5) * 0.05 + rng.normal(0, 0.012, shape)
    return np.clip(tint + texture[..., None], 0, 1)


def shadow(shape, rng):
    """(H, W, 1) light falling from 1.0 to 0.5-0.75 across the image in a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    ramp = np.cos(angle) * xs / shape[1] + np.sin(angle) * ys / shape[0]
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) or 1)
    return (1 - rng.uniform(0.25, 0.5) * ramp)[..., None]


def board(shape, rng):
    """A dark green-grey chalkboard with wiped smudges."""
    base = np.array([0.16, 0.24, 0.2]) * rng.uniform(0.7, 1.3)
    smudge = ndi.gaussian_filter(rng.normal(0, 1, shape), 12) * 0.6 + rng.normal(0, 0.02, shape)
    return np.clip(base + smudge[..., None] * 0.1, 0, 1)


def ink(background, strokes, colour, strength=1.0, light=1.0):
    """Draws strokes of an RGB colour (0-255) onto a float background under a light field (1.0 is
    even light); returns an 8-bit RGB image."""
    alpha = (strokes * strength)[..., None]
    rgb = (background * (1 - alpha) + np.array(colour) / 255 * alpha) * light
    return Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))

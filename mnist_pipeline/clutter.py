"""Generated clutter: generic 28x28 inputs that are not one digit, to train the not-a-digit detector on.

`clutter(count, rng, digits)` returns float32 (count, 28, 28) model inputs in [0, 1] (white ink on black)
drawn evenly from KINDS: random strokes, polygons, ellipses, hatching, dots, grey textured silhouettes,
noise fields, and crops, overlays, negatives and collages of the MNIST digits in `digits` (uint8
(N, 28, 28), the train split: never the test split). Each picture is drawn on a SIZE x SIZE canvas and
brought to 28x28 in one of two ways, at random: framed as predict's preparation frames a user's picture
(binarised, its ink fitted into 20 px and centred by mass: predict/framing.py), or resized whole with its
greys (as a 28x28 picture from another data set would be given). None of these is a kind of
negatives.KINDS drawn the same way; the stage measures on those with a seed of its own.
"""
import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from mnist_pipeline.predict.arrays import crop_to_ink, resize
from mnist_pipeline.predict.framing import centre_by_mass, fit_box

SIZE = 64


def _draw():
    image = Image.new("L", (SIZE, SIZE), 0)
    return image, ImageDraw.Draw(image)


def _points(rng, count, low=0.1, high=0.9):
    return [tuple(p) for p in rng.uniform(low, high, (count, 2)) * SIZE]


def strokes(rng, digits):
    """Two to five pen strokes through 2-4 random points each, 3-12 px wide."""
    image, draw = _draw()
    for _ in range(int(rng.integers(2, 6))):
        draw.line(_points(rng, int(rng.integers(2, 5))), fill=255, width=int(rng.integers(3, 13)), joint="curve")
    return np.asarray(image, np.float32) / 255


def _paint(rng):
    """PIL drawing options: filled (half the time) or outlined with a random width."""
    return {"fill": 255} if rng.integers(2) else {"outline": 255, "width": int(rng.integers(3, 10))}


def polygon(rng, digits):
    """A random polygon of 3-9 corners, filled or outlined."""
    image, draw = _draw()
    draw.polygon(_points(rng, int(rng.integers(3, 10))), **_paint(rng))
    return np.asarray(image, np.float32) / 255


def ellipses(rng, digits):
    """One to four ellipses, each filled or outlined."""
    image, draw = _draw()
    for _ in range(int(rng.integers(1, 5))):
        (x0, y0), (x1, y1) = sorted(_points(rng, 2, 0.05, 0.95))
        draw.ellipse([min(x0, x1), min(y0, y1), max(x0, x1) + 4, max(y0, y1) + 4], **_paint(rng))
    return np.asarray(image, np.float32) / 255


def hatching(rng, digits):
    """Parallel lines at a random angle, or a grid of them."""
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    period, width = rng.uniform(8, 20), rng.uniform(0.2, 0.5)
    field = np.zeros((SIZE, SIZE), np.float32)
    for angle in rng.uniform(0, np.pi, int(rng.integers(1, 3))):
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period
        field = np.maximum(field, (phase % 1 < width).astype(np.float32))
    return field * _silhouette(rng, smooth=True)


def dots(rng, digits):
    """Five to sixty dots, 2-10 px across."""
    image, draw = _draw()
    for x, y in _points(rng, int(rng.integers(5, 61))):
        r = rng.uniform(1, 5)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(image, np.float32) / 255


def _silhouette(rng, smooth=False):
    """A smooth random shape (1 inside, 0 outside) filling 20-90% of the canvas; soft-edged if `smooth`."""
    field = ndi.gaussian_filter(rng.normal(size=(SIZE, SIZE)), SIZE / rng.uniform(6, 14))
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE - 0.5
    field = field / field.std() - (xx ** 2 + yy ** 2) * rng.uniform(4, 16) + rng.uniform(0, 1.5)
    return np.clip(field * 2, 0, 1).astype(np.float32) if smooth else (field > 0).astype(np.float32)


def texture(rng, digits):
    """A smooth random silhouette filled with a grey texture (a level plus noise at a random scale)."""
    noise = ndi.gaussian_filter(rng.uniform(size=(SIZE, SIZE)), rng.uniform(0, 3))
    noise = (noise - noise.min()) / max(np.ptp(noise), 1e-6)
    fill = rng.uniform(0.2, 1.0) + rng.uniform(0, 0.6) * (noise - 0.5)
    return np.clip(fill, 0, 1).astype(np.float32) * _silhouette(rng)


def noise_field(rng, digits):
    """Grey noise, plain or smoothed, over part or all of the canvas."""
    noise = ndi.gaussian_filter(rng.uniform(size=(SIZE, SIZE)), rng.uniform(0, 6))
    noise = ((noise - noise.min()) / max(np.ptp(noise), 1e-6)).astype(np.float32)
    return noise * (_silhouette(rng) if rng.integers(2) else 1)


def _digit(rng, digits, size=SIZE):
    """One of `digits` as float (size, size) in [0, 1]."""
    digit = digits[rng.integers(len(digits))].astype(np.float32) / 255
    return resize(digit, (size, size), Image.Resampling.BILINEAR)


def digit_fragment(rng, digits):
    """A window of 30-65% of a digit's field (height and width each), enlarged."""
    digit = _digit(rng, digits)
    h, w = (rng.uniform(0.3, 0.65, 2) * SIZE).astype(int)
    top, left = rng.integers(0, SIZE - h), rng.integers(0, SIZE - w)
    return resize(digit[top:top + h, left:left + w], (SIZE, SIZE), Image.Resampling.BILINEAR)


def digit_overlay(rng, digits):
    """Two digits drawn over one another, the second shifted and turned."""
    second = ndi.rotate(_digit(rng, digits), rng.uniform(-90, 90), reshape=False, order=1)
    second = ndi.shift(second, rng.uniform(-8, 8, 2), order=1)
    return np.clip(np.maximum(_digit(rng, digits), second), 0, 1)


def digit_negative(rng, digits):
    """A filled shape with a digit's strokes cut out of it."""
    return np.clip(_silhouette(rng) * (1 - _digit(rng, digits)), 0, 1)


def digit_collage(rng, digits):
    """Four to nine small digits in a grid."""
    side = int(rng.integers(2, 4))
    cell = SIZE // side
    canvas = np.zeros((SIZE, SIZE), np.float32)
    for row in range(side):
        for col in range(side):
            canvas[row * cell:(row + 1) * cell, col * cell:(col + 1) * cell] = _digit(rng, digits, cell)
    return canvas


KINDS = {f.__name__: f for f in (strokes, polygon, ellipses, hatching, dots, texture, noise_field,
                                 digit_fragment, digit_overlay, digit_negative, digit_collage)}


def framed(picture):
    """The picture as predict's preparation frames ink: binarised at 0.5, fitted into 20 px, centred by mass."""
    return centre_by_mass(fit_box(crop_to_ink(picture >= 0.5)))


def whole(picture, rng):
    """The whole picture, greys kept, resized to a side of 20-28 px and centred in 28x28."""
    side = int(rng.integers(20, 29))
    canvas = np.zeros((28, 28), np.float32)
    top = (28 - side) // 2
    canvas[top:top + side, top:top + side] = np.clip(resize(picture, (side, side), Image.Resampling.BOX), 0, 1)
    return canvas


def clutter(count, rng, digits):
    """float32 (count, 28, 28) inputs, KINDS in turn (none empty), each framed or whole at random (whole when nothing
    reaches 0.5)."""
    names = list(KINDS)
    inputs = np.zeros((count, 28, 28), np.float32)
    for i in range(count):
        picture = KINDS[names[i % len(names)]](rng, digits)
        while picture.max() < 0.1:  # an empty silhouette: draw again
            picture = KINDS[names[i % len(names)]](rng, digits)
        inputs[i] = whole(picture, rng) if rng.integers(2) or not (picture >= 0.5).any() else framed(picture)
    return inputs

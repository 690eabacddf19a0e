"""Pictures that are not one digit, for measuring how often "not a digit" is said (never for fitting it).

`render(kind, count, rng, digits)` returns `count` PIL greyscale pictures (dark ink on white, 96-140 px)
of one kind in KINDS: letters and symbols in matplotlib's bundled DejaVu fonts, straight lines (none
within 45 degrees of upright: MNIST's 1s lean that far), scribbles, blobs, filled shapes (discs, squares,
triangles), noise, and two or three MNIST digits side by side (`digits`: uint8 (N, 28, 28), white on
black). Like a user's pictures they go through predict's preparation before the model sees them.
Letters and symbols that are drawn like a digit (O, I, l, S, Z, B, G, b, g, q, ...) are left out.
`read_fashion(path)` reads Fashion-MNIST's test images (an IDX file) as float32 (N, 28, 28, 1) in [0, 1].
"""
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

from mnist_pipeline.data import normalise
from mnist_pipeline.idx import read_images

NOT_DIGITS_DIR = Path("data/not_digits")  # the fetch_not_digits stage's output
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSans-Oblique.ttf",
         "DejaVuSansMono.ttf")
LETTERS = "ACEFHKMNPRUVWXYacdefhkmnprtuvwxy"
SYMBOLS = "+×=#%&@$?*<>÷±€£¥§¶©®∞≠≈√∑πΩµ♥☺♪"
INK, PAPER = 20, 245


def _canvas(rng):
    size = int(rng.integers(96, 141))
    return Image.new("L", (size, size), PAPER)


def _text(chars, rng):
    image = _canvas(rng)
    font = ImageFont.truetype(str(FONT_DIR / FONTS[rng.integers(len(FONTS))]), int(image.width * rng.uniform(0.5, 0.7)))
    char = chars[rng.integers(len(chars))]
    centre = image.width / 2 + rng.uniform(-8, 8, size=2)
    ImageDraw.Draw(image).text(tuple(centre), char, fill=INK, font=font, anchor="mm")
    return image


def letter(rng, digits):
    """One letter that no digit resembles."""
    return _text(LETTERS, rng)


def symbol(rng, digits):
    """One symbol (+, %, @, €, ♥, ...)."""
    return _text(SYMBOLS, rng)


def line(rng, digits):
    """A straight line 45-90 degrees from upright, 3-10 px wide."""
    image = _canvas(rng)
    angle = np.radians(rng.uniform(45, 135))
    half = image.width * rng.uniform(0.25, 0.4)
    centre = image.width / 2 + rng.uniform(-10, 10, size=2)
    offset = half * np.array([np.sin(angle), np.cos(angle)])
    ImageDraw.Draw(image).line([tuple(centre - offset), tuple(centre + offset)], fill=INK,
                               width=int(rng.integers(3, 11)))
    return image


def scribble(rng, digits):
    """A pen wandering through 6-10 random points."""
    image = _canvas(rng)
    points = rng.uniform(0.15, 0.85, size=(int(rng.integers(6, 11)), 2)) * image.width
    ImageDraw.Draw(image).line([tuple(p) for p in points], fill=INK, width=int(rng.integers(3, 9)), joint="curve")
    return image


def blob(rng, digits):
    """A filled shape with a random smooth outline."""
    size = int(rng.integers(96, 141))
    field = ndi.gaussian_filter(rng.normal(size=(size, size)), size / 10)
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    field = field / field.std() - 6 * (xx ** 2 + yy ** 2) * rng.uniform(2, 4)
    return Image.fromarray(np.where(field > 0, INK, PAPER).astype(np.uint8))


def shape(rng, digits):
    """A filled disc, square or triangle."""
    image = _canvas(rng)
    c = image.width / 2 + rng.uniform(-8, 8, size=2)
    r = image.width * rng.uniform(0.15, 0.35)
    draw = ImageDraw.Draw(image)
    kind = rng.integers(3)
    if kind == 0:
        draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=INK)
    elif kind == 1:
        draw.rectangle([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=INK)
    else:
        draw.regular_polygon((c[0], c[1], r), 3, rotation=float(rng.uniform(0, 120)), fill=INK)
    return image


def noise(rng, digits):
    """Uniform grey noise, or smooth blotches, over the whole picture."""
    size = int(rng.integers(96, 141))
    pixels = rng.uniform(0, 1, (size, size))
    if rng.integers(2):
        pixels = ndi.gaussian_filter(pixels, 4)
        pixels = (pixels - pixels.min()) / np.ptp(pixels)
    return Image.fromarray((pixels * 255).astype(np.uint8))


def _side_by_side(digits, rng, count):
    chosen = digits[rng.choice(len(digits), size=count, replace=False)]
    gap = np.zeros((28, int(rng.integers(0, 5))), dtype=np.uint8)
    row = np.concatenate([part for d in chosen for part in (d, gap)][:-1], axis=1)
    return Image.fromarray(255 - np.pad(row, 6)).resize((row.shape[1] * 4, 160), Image.Resampling.BICUBIC)


def two_digits(rng, digits):
    """Two MNIST digits side by side, 0-4 px apart."""
    return _side_by_side(digits, rng, 2)


def three_digits(rng, digits):
    """Three MNIST digits side by side, 0-4 px apart."""
    return _side_by_side(digits, rng, 3)


KINDS = {f.__name__: f for f in (letter, symbol, line, scribble, blob, shape, noise, two_digits, three_digits)}


def render(kind, count, rng, digits=None):
    """`count` pictures of `kind` (a key of KINDS); the digit kinds draw from `digits`."""
    return [KINDS[kind](rng, digits) for _ in range(count)]


def read_fashion(path):
    """Fashion-MNIST's images in the IDX file at `path` as float32 (N, 28, 28, 1) in [0, 1]."""
    return normalise(read_images(path))


"""Renders real MNIST digits as the pictures people make of their own handwriting.

Shared by tests/test_predict.py and bench/bench_predict.py. `load_mnist(folder, split)` and
`sample_digits(folder, count, seed)` read the MNIST IDX .gz files in a folder (the pipeline's
data/raw, or a local copy); `write_rendering` writes one image file per digit in the file format of
its style. Besides the original 28x28 digit, most styles in STYLES draw the digit large (150-400 px)
the way one kind of real picture looks: pen on shaded, textured paper, chalk on a board, coloured
ink, thin and thick strokes, off-centre, rotated, JPEG-compressed, transparent, palette, 16-bit
and greyscale. The `tight_*` styles crop the digit close to its ink (16-32 px, touching two or more
edges, as scanned forms and digit datasets store them) in thin, normal and bold strokes, grey and
binarised.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from mnist_pipeline.idx import read_images, read_labels
from mnist_pipeline.predict.drawing import (BLUE_PEN, CHALK, PEN, RED_PEN, board, ink, natural_strokes, paper,
                                          pen_strokes, place, rotate, shadow)


def load_mnist(folder, split):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of the MNIST "train" or "t10k" (test) split in folder."""
    folder = Path(folder)
    return (read_images(folder / f"{split}-images-idx3-ubyte.gz"),
            read_labels(folder / f"{split}-labels-idx1-ubyte.gz", 10))


def sample_digits(folder, count, seed=0):
    """(images, labels) of `count` MNIST test digits in folder drawn at random (fixed by `seed`)."""
    images, labels = load_mnist(folder, "t10k")
    chosen = np.random.default_rng(seed).choice(len(labels), size=count, replace=False)
    return images[chosen], labels[chosen]


def _canvas(strokes, rng, extra=(0.1, 0.4)):
    """Canvas shape leaving a random extra margin (fraction of the stroke field) around the strokes."""
    grow = 1 + rng.uniform(*extra, size=2)
    return round(strokes.shape[0] * grow[0]), round(strokes.shape[1] * grow[1])


def _pen_on_paper(digit, rng, width_fraction, colour=PEN, shaded=True):
    """A pen-drawn digit (stroke width = width_fraction of its height) on paper, as RGB."""
    height = rng.integers(150, 300)
    strokes = pen_strokes(digit, height, max(2.0, height * width_fraction))
    shape = _canvas(strokes, rng)
    return ink(paper(shape, rng), place(strokes, shape, rng), colour, light=shadow(shape, rng) if shaded else 1.0)


# --- the styles

def render_paper_photo(digit, rng):
    """Ballpoint on shaded, textured paper, slightly rotated (a phone photo)."""
    height = rng.integers(150, 300)
    strokes = rotate(pen_strokes(digit, height, height * rng.uniform(0.05, 0.09)), rng.uniform(-5, 5))
    shape = _canvas(strokes, rng)
    return ink(paper(shape, rng), place(strokes, shape, rng), PEN, rng.uniform(0.8, 0.95), shadow(shape, rng))


def render_chalkboard(digit, rng):
    """Grainy chalk on a smudged dark board."""
    strokes = natural_strokes(digit, rng.integers(150, 300))
    shape = _canvas(strokes, rng)
    grain = np.clip(rng.normal(0.85, 0.15, shape), 0, 1)
    return ink(board(shape, rng), place(strokes, shape, rng) * grain, CHALK)


def render_blue_pen(digit, rng):
    """Blue ballpoint on white paper."""
    return _pen_on_paper(digit, rng, rng.uniform(0.05, 0.08), BLUE_PEN, shaded=False)


def render_red_pen(digit, rng):
    """Red felt pen on white paper."""
    return _pen_on_paper(digit, rng, rng.uniform(0.06, 0.1), RED_PEN, shaded=False)


def render_thin_pen(digit, rng):
    """A fine liner: strokes about 2% of the digit's height, in greyscale."""
    return _pen_on_paper(digit, rng, rng.uniform(0.015, 0.025)).convert("L")


def render_thick_marker(digit, rng):
    """A broad marker: strokes 15-20% of the digit's height."""
    return _pen_on_paper(digit, rng, rng.uniform(0.15, 0.2), shaded=False)


def render_off_centre(digit, rng):
    """A small digit placed off-centre on a large sheet (wide margins)."""
    strokes = pen_strokes(digit, rng.integers(60, 100), rng.uniform(4, 7))
    shape = (rng.integers(300, 400), rng.integers(300, 400))
    return ink(paper(shape, rng), place(strokes, shape, rng), PEN, light=shadow(shape, rng))


def render_rotated(digit, rng):
    """The digit rotated by 6-12 degrees either way."""
    strokes = rotate(natural_strokes(digit, rng.integers(150, 300)), rng.choice([-1, 1]) * rng.uniform(6, 12))
    shape = _canvas(strokes, rng)
    return ink(paper(shape, rng), place(strokes, shape, rng), PEN)


def render_rgba_dark(digit, rng):
    """Dark ink on a fully transparent background (a drawing app's export); hidden pixels are black."""
    strokes = pen_strokes(digit, rng.integers(150, 300), rng.uniform(8, 16))
    alpha = place(strokes, _canvas(strokes, rng), rng)
    rgba = np.zeros(alpha.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = PEN
    rgba[..., 3] = np.round(alpha * 255)
    return Image.fromarray(rgba)


def render_rgba_light(digit, rng):
    """White ink on a fully transparent background; hidden pixels are white."""
    strokes = natural_strokes(digit, rng.integers(150, 300))
    alpha = place(strokes, _canvas(strokes, rng), rng)
    rgba = np.full(alpha.shape + (4,), 255, dtype=np.uint8)
    rgba[..., 3] = np.round(alpha * 255)
    return Image.fromarray(rgba)


def render_palette(digit, rng):
    """A blue brush on a flat white canvas reduced to a 16-colour palette (a GIF drawing)."""
    strokes = pen_strokes(digit, rng.integers(150, 300), rng.uniform(10, 20))
    shape = _canvas(strokes, rng)
    return ink(np.ones(shape + (3,)), place(strokes, shape, rng), BLUE_PEN).quantize(16)


def render_mouse(digit, rng):
    """A mouse drawing: uniform round brush, no anti-aliasing, black on white, greyscale."""
    height = rng.integers(150, 250)
    strokes = pen_strokes(digit, height, height * rng.uniform(0.08, 0.14)) > 0.5
    shape = _canvas(strokes, rng)
    return Image.fromarray(np.where(place(strokes.astype(np.float32), shape, rng) > 0.5, 0, 255).astype(np.uint8))


def render_pencil(digit, rng):
    """Faint, grainy pencil on shaded paper, as a 16-bit greyscale image."""
    height = rng.integers(150, 300)
    strokes = pen_strokes(digit, height, height * rng.uniform(0.03, 0.05))
    shape = _canvas(strokes, rng)
    grain = np.clip(rng.normal(0.8, 0.2, shape), 0, 1)
    grey = ink(paper(shape, rng), place(strokes, shape, rng) * grain, (90, 90, 90), 0.7, shadow(shape, rng))
    return Image.fromarray(np.asarray(grey.convert("L")).astype(np.uint16) * 257)


def render_screen(digit, rng):
    """Light strokes on a dark screen (a drawing app in dark mode), greyscale."""
    strokes = natural_strokes(digit, rng.integers(150, 300))
    shape = _canvas(strokes, rng)
    background = np.full(shape + (3,), rng.uniform(0.05, 0.2))
    return ink(background, place(strokes, shape, rng), (240, 240, 240)).convert("L")


def _tight_crop(strokes, rng, sides, square):
    """Float strokes (H, W) cut to their ink and area-averaged to a longer side drawn from `sides`
    (px); `square` puts them in a square of that side, touching it at a random place across."""
    rows, cols = np.flatnonzero(strokes.max(axis=1) > 0.05), np.flatnonzero(strokes.max(axis=0) > 0.05)
    strokes = strokes[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    side = int(rng.integers(sides[0], sides[1] + 1))
    scale = side / max(strokes.shape)
    size = (max(1, round(strokes.shape[1] * scale)), max(1, round(strokes.shape[0] * scale)))
    small = np.asarray(Image.fromarray(strokes.astype(np.float32)).resize(size, Image.Resampling.BOX))
    if not square:
        return small
    field = np.zeros((side, side), dtype=np.float32)
    top, left = (rng.integers(0, side - small.shape[0] + 1), rng.integers(0, side - small.shape[1] + 1))
    field[top:top + small.shape[0], left:left + small.shape[1]] = small
    return field


def _tight(digit, rng, weight, sides, binary=False, light=False):
    """A digit cropped to its ink (see _tight_crop, square half the time) with strokes of `weight`
    (thin, normal, bold), grey or binarised, dark on light paper or light on dark (`light`)."""
    if weight == "thin":  # a fine pen: 4-6% of the digit's height
        strokes = pen_strokes(digit, 80, 80 * rng.uniform(0.04, 0.06))
    elif weight == "bold":  # a broad pen: 18-26% of the digit's height
        strokes = pen_strokes(digit, 80, 80 * rng.uniform(0.18, 0.26))
    else:
        strokes = natural_strokes(digit, 80)
    alpha = _tight_crop(strokes, rng, sides, square=rng.random() < 0.5)
    if binary:  # a 1-bit image: white paper, black ink (or the reverse)
        return Image.fromarray((alpha >= 0.5) == light)
    paper_level, ink_level = (rng.uniform(0, 0.15), rng.uniform(0.85, 1)) if light else \
        (rng.uniform(0.85, 1), rng.uniform(0, 0.25))
    grey = paper_level + (ink_level - paper_level) * alpha
    return Image.fromarray(np.round(grey * 255).astype(np.uint8))


def render_tight_grey(digit, rng):
    """Cropped to its ink, 20-32 px, normal strokes, dark grey on light grey."""
    return _tight(digit, rng, "normal", (20, 32))


def render_tight_binary(digit, rng):
    """Cropped to its ink, 16-32 px, normal strokes, black and white (1-bit)."""
    return _tight(digit, rng, "normal", (16, 32), binary=True)


def render_tight_thin(digit, rng):
    """Cropped to its ink, 24-32 px, a fine pen (4-6% of the height), grey."""
    return _tight(digit, rng, "thin", (24, 32))


def render_tight_bold(digit, rng):
    """Cropped to its ink, 16-32 px, bold strokes (a broad pen), grey."""
    return _tight(digit, rng, "bold", (16, 32))


def render_tight_bold_binary(digit, rng):
    """Cropped to its ink, 16-32 px, bold strokes (a broad pen), black and white (1-bit)."""
    return _tight(digit, rng, "bold", (16, 32), binary=True)


def render_tight_light_ink(digit, rng):
    """Cropped to its ink, 16-28 px, normal or bold strokes, light on dark (a digit data set)."""
    return _tight(digit, rng, rng.choice(["normal", "bold"]), (16, 28), light=True)


def render_original(digit, rng):
    """The MNIST digit itself, 28x28 white on black: the reference every style is compared with."""
    return Image.fromarray(digit)


@dataclass(frozen=True)
class Style:
    """A way of drawing a digit and the file format it is saved in."""
    name: str
    render: Callable
    suffix: str
    save_options: dict = field(default_factory=dict)


FAST_PNG = {"compress_level": 1}
STYLES = [
    Style("mnist_28x28", render_original, ".png"),
    Style("paper_photo", render_paper_photo, ".jpg", {"quality": 85}),
    Style("chalkboard", render_chalkboard, ".jpg", {"quality": 85}),
    Style("blue_pen", render_blue_pen, ".png", FAST_PNG),
    Style("red_pen", render_red_pen, ".png", FAST_PNG),
    Style("thin_pen", render_thin_pen, ".png", FAST_PNG),
    Style("thick_marker", render_thick_marker, ".png", FAST_PNG),
    Style("off_centre", render_off_centre, ".png", FAST_PNG),
    Style("rotated", render_rotated, ".png", FAST_PNG),
    Style("jpeg_q20", render_paper_photo, ".jpg", {"quality": 20}),
    Style("rgba_dark_ink", render_rgba_dark, ".png", FAST_PNG),
    Style("rgba_light_ink", render_rgba_light, ".png", FAST_PNG),
    Style("palette_gif", render_palette, ".gif"),
    Style("mouse_bmp", render_mouse, ".bmp"),
    Style("pencil_tiff", render_pencil, ".tiff"),
    Style("screen_webp", render_screen, ".webp", {"quality": 80}),
    Style("tight_grey", render_tight_grey, ".png"),
    Style("tight_binary", render_tight_binary, ".png"),
    Style("tight_thin", render_tight_thin, ".png"),
    Style("tight_bold", render_tight_bold, ".png"),
    Style("tight_bold_binary", render_tight_bold_binary, ".png"),
    Style("tight_light_ink", render_tight_light_ink, ".png"),
]


def write_rendering(style, digit, rng, stem):
    """Renders `digit` in `style` and saves it as stem + the style's suffix; returns the path."""
    path = Path(f"{stem}{style.suffix}")
    style.render(digit, rng).save(path, **style.save_options)
    return path

"""Counts the digit-sized pieces of ink side by side in a picture: two or more mean several digits.

`digit_pieces(img)` reads a PIL image and finds its ink the way prepare.prepare_image does (ink map,
hysteresis mask, ruled lines removed); it returns how many connected pieces are digit-sized (at least
MIN_HEIGHT of the tallest piece's height and MIN_MASS of the heaviest piece's ink) and stand side by
side: each overlaps the columns of a bigger one by at most MAX_OVERLAP of its own width. A digit's
separate parts (the 5's bar, a broken stroke) lie above or across one another and count once.
`prepare_with_checks(img)` gives prepare.prepare_readings' two model inputs and their InkChecks from one pass over
the ink (what predict.py, the demo server and the not_a_digit stage ask for each picture): the count and the digit's
stroke spread (predict/strokes.py); `InkChecks.not_one_digit` is true when either says the picture is not one digit.
"""
from typing import NamedTuple

import numpy as np
from skimage.measure import label, regionprops

from mnist_pipeline.predict.framing import frame_readings
from mnist_pipeline.predict.prepare import drawn_digit, ink_layers
from mnist_pipeline.predict.strokes import MAX_STROKE_SPREAD, stroke_spread

MIN_HEIGHT = 0.6
MIN_MASS = 0.25
MAX_OVERLAP = 0.25


def digit_pieces(img):
    """How many digit-sized pieces of ink stand side by side in the PIL image (0 when it has no ink)."""
    ink, mask, *_ = ink_layers(img)
    return side_by_side(mask, ink)


class InkChecks(NamedTuple):
    """What the ink says of a picture beside the model: digit-sized pieces side by side, and the stroke spread."""
    pieces: int
    stroke_spread: float

    @property
    def not_one_digit(self):
        """Two or more digit-sized pieces side by side, or strokes too uneven for a pen (MAX_STROKE_SPREAD)."""
        return self.pieces >= 2 or self.stroke_spread > MAX_STROKE_SPREAD


def prepare_with_checks(img):
    """(prepare.prepare_readings(img): float32 (2, 28, 28), its InkChecks) of a PIL image, its ink found once;
    ImageError as prepare_image."""
    layers = ink_layers(img)
    binary = drawn_digit(*layers)
    ink, mask = layers[:2]
    return frame_readings(binary), InkChecks(side_by_side(mask, ink), round(stroke_spread(binary), 2))


def side_by_side(mask, ink):
    """How many digit-sized pieces of the boolean ink `mask` (H, W) stand side by side; `ink` weighs them."""
    regions = regionprops(label(mask, connectivity=2), intensity_image=ink)
    if not regions:
        return 0
    mass = np.array([region.intensity_mean * region.area for region in regions])
    heights = np.array([region.bbox[2] - region.bbox[0] for region in regions])
    big = [regions[i] for i in np.argsort(-mass)
           if mass[i] >= MIN_MASS * mass.max() and heights[i] >= MIN_HEIGHT * heights.max()]
    counted = []
    for region in big:  # heaviest first
        left, right = region.bbox[1], region.bbox[3]
        if all(min(right, r) - max(left, l) <= MAX_OVERLAP * (right - left) for l, r in counted):
            counted.append((left, right))
    return len(counted)

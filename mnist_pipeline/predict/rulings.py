"""Step 4b: removes the lines of ruled or squared paper from an ink mask.

`without_ruled_lines(mask, stroke)` reads a boolean ink mask (H, W) and the stroke width in pixels
and returns the mask without straight, thin, long lines tilted at most 5 degrees from horizontal
or vertical, evenly spaced and running from one end of the ink to the other, or spanning nearly
the whole picture; where a stroke crosses a line it stays. Nothing is removed if too little ink
would remain (a tightly cropped "1" is not a ruling), nor the top and bottom of a wide 0 (they stop
short of its sides).
"""
import numpy as np
from scipy import ndimage as ndi
from skimage.transform import hough_line

TILTS = np.radians(np.arange(-5, 5.01, 0.25))  # line directions searched, from horizontal (vertical)


def without_ruled_lines(mask, stroke):
    """The ink mask without the lines of ruled or squared paper; where a stroke crosses a line it stays.

    Candidates are thin pixels (at most 1.5 stroke widths across the line direction); on_ruling
    decides which lie on a ruling.
    """
    kept = mask.copy()
    for across in (0, 1):  # 0: horizontal lines (thin across rows), 1: vertical lines
        thin = kept & (run_lengths(kept, across) <= max(2.0, 1.5 * stroke))
        kept[thin] &= ~on_ruling(thin, across)
    # What remains must still hold a stroke a tenth of the image long, else the "ruling" was the digit.
    return kept if kept.sum() >= 0.1 * max(mask.shape) * stroke else mask


def on_ruling(thin, across):
    """For each pixel of `thin` (in np.nonzero order), whether it lies on a ruling across axis `across`.

    A Hough transform over tilts of -5..5 degrees finds the direction in which the most pixels lie
    within one pixel of a line, then measures, for each line of that direction, how much of the span
    its pixels cover. A ruling is two or more evenly spaced parallel lines covering 30% of the span
    and 60 px each and reaching both ends of the ink (within 10% of its extent: the curves of a 0
    or an 8 stop short of its sides), which then also takes fainter lines (10%) at that spacing, or
    a line covering 90% of the span. Hand-drawn strokes are rarely that long and straight.
    """
    rows, cols = np.nonzero(thin)
    # position: across the lines; offset: along them. Transposed, vertical lines become horizontal.
    position, offset = (rows, cols) if across == 0 else (cols, rows)
    span = thin.shape[1 - across]
    if position.size < 0.3 * span:
        return np.zeros(position.size, dtype=bool)
    # Near-horizontal lines have their normal near 90 degrees; distance = offset cos + position sin.
    accumulator, angles, _ = hough_line(thin if across == 0 else thin.T, theta=np.pi / 2 + TILTS)
    within_a_pixel = ndi.convolve1d(accumulator.astype(np.int64), np.ones(3, dtype=np.int64), axis=0, mode="constant")
    angle = angles[int(np.argmax(within_a_pixel.max(axis=0)))]
    intercept = np.round(offset * np.cos(angle) + position * np.sin(angle)).astype(int)
    intercept += 1 - intercept.min()
    # coverage[b]: how many distinct positions along the line have a pixel within one of intercept b
    cells = np.unique(np.concatenate([(intercept + d) * span + offset for d in (-1, 0, 1)]))
    coverage = np.bincount(cells // span)
    # first[b], last[b]: the extreme positions along the line reached within one of intercept b
    first, last = np.full(coverage.size + 1, offset.max()), np.full(coverage.size + 1, offset.min())
    for d in (-1, 0, 1):
        np.minimum.at(first, intercept + d, offset)
        np.maximum.at(last, intercept + d, offset)
    reach = 0.1 * (offset.max() - offset.min())
    end_to_end = (first[:-1] <= offset.min() + reach) & (last[:-1] >= offset.max() - reach)
    # Rulings are thin (at most 6 neighbouring intercepts, about 4 px) and a hand-drawn stroke is not
    # straight to a pixel over 60 px, so shorter or wider "lines" are never part of a ruling.
    lines = np.flatnonzero(narrow(coverage >= max(0.9 * span, 60)))
    strong = np.flatnonzero(narrow(coverage >= max(0.3 * span, 60)) & end_to_end)
    starts = strong[np.r_[True, np.diff(strong) > 1]] if strong.size else strong
    if starts.size >= 2:
        gaps = np.diff(starts) / np.diff(starts).min()
        if np.all(np.abs(gaps - np.round(gaps)) <= 0.2):
            phase = (np.arange(coverage.size) - starts[0] + 2) % np.diff(starts).min()
            lines = np.union1d(strong, np.flatnonzero((coverage >= 0.1 * span) & (phase <= 4)))
    return np.isin(intercept, np.concatenate([lines - 1, lines, lines + 1]))


def narrow(flags, width=6):
    """A 1-D boolean array keeping only its runs of True no longer than `width`."""
    return flags & (run_lengths(flags[np.newaxis], 1)[0] <= width)


def run_lengths(mask, axis):
    """For each True pixel, the length of the unbroken run of True pixels through it along `axis`."""
    runs = np.moveaxis(mask, axis, -1)
    edges = np.diff(np.pad(runs, [(0, 0), (1, 1)]).astype(np.int8), axis=-1)
    lengths = np.flatnonzero(edges.ravel() == -1) - np.flatnonzero(edges.ravel() == 1)
    out = np.zeros(runs.shape, dtype=np.int32)
    out[runs] = np.repeat(lengths, lengths)
    return np.moveaxis(out, -1, axis)

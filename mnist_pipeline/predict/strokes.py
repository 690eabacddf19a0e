"""Tells ink drawn with a pen from a solid object: a pen's stroke keeps its width along its length.

`stroke_spread(binary)` reads the digit as framing.digit_binary makes it (binary, 80 px longer side, its
strokes as drawn, before step 6 brings them to MNIST's width) and returns how many times wider its strokes
are in one place than in another: the 90th over the 10th percentile of the distance to the background along
the skeleton, leaving out the tapering ends (under half the median). Any pen gives about 1-2.5; a dress, a
T-shirt or a filled disc, whose "strokes" widen from a narrow top to a broad hem or centre, gives more. Over
MAX_STROKE_SPREAD a picture is not one digit (predict/pieces.py's InkChecks).
"""
import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

# 99.99th percentile over MNIST's 48,000 train digits (each saved as an 8-bit picture and prepared): 3.78.
# Over it: none of the 12,000 validation digits the score accepts, 11.5% of the Fashion-MNIST images it accepts.
MAX_STROKE_SPREAD = 3.75
MIN_SKELETON = 5  # fewer skeleton pixels (a dot) say nothing about the stroke: spread 1


def stroke_spread(binary):
    """The 90th / 10th percentile of the stroke width along the skeleton of a binary digit (1.0 for a dot)."""
    binary = np.asarray(binary) > 0  # plain 0/1 booleans: skeletonize crashes on a PIL bitmap's (0/255)
    distance = ndi.distance_transform_edt(np.pad(binary, 1))[1:-1, 1:-1]
    widths = distance[skeletonize(binary)]
    if len(widths) < MIN_SKELETON:
        return 1.0
    inner = widths[widths >= 0.5 * np.median(widths)]
    return float(np.percentile(inner, 90) / np.percentile(inner, 10))

"""Steps 6-7: frames the selected digit the way MNIST's digits were made.

`digit_binary(ink, digit, strong_level)` reads the ink strength (H, W), the digit's boolean mask and
the strong ink level and returns the digit's crop resampled to an 80 px longer side and binarised at
half the local stroke contrast (its strokes as drawn); `frame_binary(binary)` brings its stroke width
to MNIST's when far from it, area-averages it to a 20 px longer side (MNIST's anti-aliasing) and
pastes it into 28x28 with its centre of mass on the centre pixel (14, 14): float32 (28, 28) in [0, 1],
white ink on black. `frame_readings(binary)` gives that input and the digit framed with its strokes as
drawn (float32 (2, 28, 28); the two are equal where the stroke width was left alone), the two readings
predict/readings.py classifies.
"""
import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage.morphology import isotropic_dilation, isotropic_erosion

from mnist_pipeline.predict.arrays import crop_to_ink, odd, resize, stroke_width
from mnist_pipeline.predict.decode import ImageError

STROKE_SCALE = 80        # longer side of the digit while its stroke width is measured and adjusted
BOX_SIZE = 20            # MNIST fits each digit's longer side into 20 px ...
CANVAS_SIZE = 28         # ... and centres its mass in a 28x28 field
# Stroke width / box side of the first 20,000 MNIST training digits, upscaled to STROKE_SCALE and
# binarised at 0.5 (see arrays.stroke_width): median 0.126, 5th-95th percentile 0.082-0.200.
# Widths outside that band are set to the median.
MNIST_STROKE_RATIO = 0.126
MNIST_STROKE_BAND = (0.082, 0.200)


def digit_binary(ink, digit, strong_level):
    """The digit's crop, binary, with a STROKE_SCALE longer side (its strokes as drawn); ImageError if blank."""
    return binarise(crop_soft(ink, digit, strong_level))


def frame_binary(binary):
    """The 28x28 float32 input of digit_binary's output: strokes brought to MNIST's width, boxed and centred."""
    return frame(match_mnist_strokes(binary))


def frame_readings(binary):
    """float32 (2, 28, 28): frame_binary's input, and the digit framed with its strokes as drawn (equal to the
    first where match_mnist_strokes leaves them)."""
    strokes = match_mnist_strokes(binary)
    adjusted = frame(strokes)
    return np.stack([adjusted, adjusted if strokes is binary else frame(binary)])


def frame(binary):
    """The binary digit boxed (fit_box) and centred by its mass in 28x28 (centre_by_mass), strokes as they are."""
    return centre_by_mass(fit_box(binary))


def crop_soft(ink, digit, strong_level):
    """The digit's crop with ink scaled by the local stroke peak (faint and strong strokes -> 1.0)."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    region = (slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(cols[0] - 1, 0), cols[-1] + 2))
    strokes, values = digit[region], ink[region]
    halo = ndi.binary_dilation(strokes, structure=np.ones((3, 3)))  # anti-aliased stroke edges
    window = odd(2 * stroke_width(strokes) + 1)
    peak = np.maximum(ndi.maximum_filter(values * strokes, size=window), strong_level)
    return np.clip(values * halo / peak, 0, 1)


def binarise(soft):
    """The soft crop resampled to a STROKE_SCALE longer side and binarised; ImageError if no ink is left."""
    height, width = soft.shape
    scale = STROKE_SCALE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 1:
        grey = resize(soft, size, Image.Resampling.BOX)
        # A stroke thinner than one output pixel is averaged down to a proportionally lower peak.
        threshold = min(0.5, 0.4 * stroke_width(soft > 0.5) * scale)
    else:
        grey, threshold = resize(soft, size, Image.Resampling.BILINEAR), 0.5
    binary = crop_to_ink(grey >= max(threshold, 0.05))
    if not binary.any():
        raise ImageError("no ink found (blank image)")
    return binary


def match_mnist_strokes(binary):
    """The binary digit with its stroke width moved into MNIST's range (unchanged when already in it)."""
    stroke = stroke_width(binary)
    if MNIST_STROKE_BAND[0] <= stroke / max(binary.shape) <= MNIST_STROKE_BAND[1]:
        return binary
    # Growing (shrinking) strokes by r px on each side also grows (shrinks) the box by 2r.
    radius = round((MNIST_STROKE_RATIO * max(binary.shape) - stroke) / (2 * (1 - MNIST_STROKE_RATIO)))
    radius = max(radius, -int(0.3 * stroke))  # never erode a stroke to less than 40% of its width
    if radius > 0:
        return crop_to_ink(isotropic_dilation(np.pad(binary, radius), radius))
    if radius < 0:  # the one-pixel frame of background erodes strokes that touch the border too
        eroded = isotropic_erosion(np.pad(binary, 1), -radius)[1:-1, 1:-1]
        return crop_to_ink(eroded) if eroded.any() else binary
    return binary


def fit_box(binary):
    """Area-averages a binary digit so its longer side is BOX_SIZE px (MNIST's anti-aliasing)."""
    height, width = binary.shape
    scale = BOX_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.clip(resize(binary.astype(np.float32), size, Image.Resampling.BOX), 0, 1)


def centre_by_mass(box):
    """Pastes a digit into a CANVAS_SIZE square so its centre of mass lands on the centre pixel."""
    height, width = box.shape
    centre_y, centre_x = ndi.center_of_mass(box)
    middle = CANVAS_SIZE // 2
    top = int(np.clip(round(middle - centre_y), 0, CANVAS_SIZE - height))
    left = int(np.clip(round(middle - centre_x), 0, CANVAS_SIZE - width))
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.float32)
    canvas[top:top + height, left:left + width] = box
    return canvas

"""Small array helpers shared by the steps that read a picture: resizing float arrays, odd filter
sizes, stroke width and the crop around the ink. They read and return numpy arrays only."""
import numpy as np
from PIL import Image
from scipy import ndimage as ndi


def resize(values, size, resample):
    """Resizes a 2-D float array to size (width, height) with Pillow's float ("F") resampling."""
    return np.asarray(Image.fromarray(values.astype(np.float32)).resize(size, resample))


def odd(value):
    """The odd integer >= 3 nearest to value (filter sizes)."""
    return max(3, int(value) // 2 * 2 + 1)


def stroke_width(binary):
    """Mean stroke width in pixels of a binary image: a stroke w px wide has a mean inner distance
    to the background of about (w + 2) / 4."""
    if not binary.any():
        return 0.0
    return max(1.0, 4 * float(ndi.distance_transform_edt(np.pad(binary, 1))[1:-1, 1:-1][binary].mean()) - 2)


def crop_to_ink(binary):
    """The smallest sub-array holding every True pixel (unchanged when there is none)."""
    if not binary.any():
        return binary
    rows, cols = np.flatnonzero(binary.any(axis=1)), np.flatnonzero(binary.any(axis=0))
    return binary[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

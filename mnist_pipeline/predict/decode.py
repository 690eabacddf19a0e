"""Step 1: reads an image file into float pixels.

`load_image(path)` reads a file Pillow can decode (PNG, JPEG, BMP, GIF, WebP, TIFF, ...; RGB, RGBA,
palette, greyscale, 16-bit) and returns the PIL image, fully decoded and turned upright by its EXIF
orientation; anything unusable (missing, not a regular file, unreadable, empty, over MAX_FILE_BYTES,
not an image, corrupt, zero-sized, over MAX_PIXELS) raises ImageError with a one-line problem. The
file is read through files.open_input, so a FIFO or a device is refused without reading from it. `to_pixels(img)` returns (H, W, C) float32
in [0, 1] (C = 1 or 3), the longer side area-averaged down to WORK_SIZE, transparency composited
onto white for dark ink and onto black for light ink, 16-bit images scaled to their range.
"""
import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_pipeline.files import InputError, open_input
from mnist_pipeline.predict.arrays import resize

MAX_FILE_BYTES = 128 << 20  # larger files are refused unread (a 40-megapixel 8-bit RGB BMP is 120 MB)
MAX_PIXELS = 40_000_000  # larger images are refused (decompression bombs, accidental panoramas)
WORK_SIZE = 1024         # longer side the ink is searched at; larger images are area-averaged first
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L" mode


class ImageError(ValueError):
    """An input image cannot be classified; `problem` says why, `path` (if known) names the file."""

    def __init__(self, problem, path=None):
        self.problem, self.path = problem, path
        super().__init__(f"{path}: {problem}" if path is not None else problem)


def load_image(path):
    """Reads and fully decodes an image file, turned upright by its EXIF orientation; ImageError
    names the file and the problem."""
    path = Path(path)
    data = read_capped(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # decoders warn about damaged metadata; only the pixels matter
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open(data, path)
        width, height = img.size
        if width * height == 0:
            raise ImageError(f"zero-sized image ({width}x{height} pixels)", path)
        if width * height > MAX_PIXELS:
            raise ImageError(f"image too large ({width}x{height} pixels; the limit is {MAX_PIXELS / 1e6:g} "
                             "megapixels)", path)
        try:
            img.load()
        except Exception:  # decoders raise OSError, SyntaxError, ValueError, EOFError, struct.error ...
            raise ImageError("truncated or corrupt image data", path) from None
        return _upright(img)


def read_capped(path):
    """The bytes of the file at `path`, a non-empty regular file of at most MAX_FILE_BYTES; ImageError otherwise."""
    too_large = ImageError(f"file too large (over {MAX_FILE_BYTES / 2**20:g} MiB)", path)
    try:
        with open_input(path) as file:
            if os.fstat(file.fileno()).st_size > MAX_FILE_BYTES:
                raise too_large
            data = file.read(MAX_FILE_BYTES + 1)  # the file may have grown since
    except InputError as err:
        raise ImageError(str(err).removeprefix(f"{path}: "), path) from None
    except OSError as err:
        raise ImageError(f"cannot read ({err.strerror or err})", path) from None
    if len(data) > MAX_FILE_BYTES:
        raise too_large
    return data


def _open(data, path):
    """Image.open on the bytes of `path`, its failures turned into ImageError."""
    try:
        return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"image too large (over {MAX_PIXELS / 1e6:g} megapixels, a possible decompression bomb)",
                         path) from None
    except UnidentifiedImageError:
        size = _header_size(data)
        if size and 0 in size:
            raise ImageError(f"zero-sized image ({size[0]}x{size[1]} pixels)", path) from None
        raise ImageError("not an image or an unsupported format (expected PNG, JPEG, BMP, GIF, WebP or TIFF)",
                         path) from None
    except Exception:  # a recognised format whose header is damaged or uses an unsupported variant
        raise ImageError("corrupt or unsupported image header", path) from None


def _upright(img):
    """The image rotated/flipped as its EXIF orientation tag says (unchanged if the EXIF is unreadable)."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # damaged EXIF must not cost the picture
        return img


def _header_size(data):
    """(width, height) from a PNG, GIF or BMP header Pillow refused, or None for other data."""
    layouts = {b"\x89PNG\r\n\x1a\n": (16, ">II"), b"GIF87a": (6, "<HH"), b"GIF89a": (6, "<HH"), b"BM": (18, "<ii")}
    for signature, (offset, layout) in layouts.items():
        if data.startswith(signature) and len(data) >= offset + struct.calcsize(layout):
            return struct.unpack_from(layout, data, offset)
    return None


def to_pixels(img, max_side=WORK_SIZE):
    """(H, W, C) float32 in [0, 1], C = 1 or 3, transparency composited, longer side <= max_side."""
    scale = min(1.0, max_side / max(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if img.has_transparency_data:
        premultiplied = img.convert("RGBA").convert("RGBa").resize(size, Image.Resampling.BOX)
        return _composite(np.asarray(premultiplied, dtype=np.float32) / 255)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(img, dtype=np.float32)
        span = float(values.max() - values.min())
        values = (values - values.min()) / span if span > 0 else np.zeros_like(values)
        return resize(values, size, Image.Resampling.BOX)[..., np.newaxis]
    mode = "L" if img.mode in ("1", "L") else "RGB"
    converted = img.convert(mode).resize(size, Image.Resampling.BOX)
    return np.asarray(converted, dtype=np.float32).reshape(size[1], size[0], -1) / 255


def _composite(premultiplied):
    """RGB of premultiplied RGBa floats over white when the visible ink is dark, over black when light."""
    rgb, alpha = premultiplied[..., :3], premultiplied[..., 3:]
    covered = float(alpha.sum())
    ink_luma = float((rgb @ LUMA).sum()) / covered if covered > 0 else 0.0
    background = 1.0 if ink_luma < 0.5 else 0.0
    return rgb + (1 - alpha) * background

"""Turns an ordinary picture of one handwritten digit into the 28x28 input of the MNIST CNN.

`load_image(path)` reads a file Pillow can decode (PNG, JPEG, BMP, GIF, WebP, TIFF, ...; RGB, RGBA,
palette, greyscale, 16-bit), turns it upright by its EXIF orientation and raises ImageError with a
one-line message for anything unusable. `prepare_image(img)` returns float32 (28, 28) in [0, 1],
white ink on black, made the way MNIST was made:

1. floats per channel; transparency is composited onto white for dark ink, black for light ink;
2. polarity: the ink is the strongest deviation from a coarse median background (dark or light);
3. background: a morphological closing (opening for light ink) per channel, wider than the strokes,
   is subtracted: it removes paper texture, shadows and uneven light but keeps every stroke;
4. ink mask: hysteresis threshold between a noise floor and Otsu (faint strokes connected to strong
   ones survive); the lines of ruled or squared paper are removed; the digit is the connected
   component with the most ink near the centre (not page edges, shadows or specks), plus nearby
   pieces of similar scale (the 5's bar, broken strokes);
5. the crop is resampled so its longer side is 80 px, binarised at half the local stroke contrast,
   and its stroke width is brought to MNIST's (about 12.6% of the box) when far from it;
6. the binary digit is area-averaged to a 20 px longer side (MNIST's anti-aliasing) and pasted
   into 28x28 with its centre of mass at (14, 14).
"""
import io
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage as ndi

MAX_PIXELS = 40_000_000  # larger images are refused (decompression bombs, accidental panoramas)
WORK_SIZE = 1024         # longer side the ink is searched at; larger images are area-averaged first
STROKE_SCALE = 80        # longer side of the digit while its stroke width is measured and adjusted
BOX_SIZE = 20            # MNIST fits each digit's longer side into 20 px ...
CANVAS_SIZE = 28         # ... and centres its mass in a 28x28 field
# Stroke width / box side of the first 20,000 MNIST training digits, upscaled to STROKE_SCALE and
# binarised at 0.5 (see _stroke_width): median 0.126, 5th-95th percentile 0.082-0.200. Widths
# outside that band are set to the median.
MNIST_STROKE_RATIO = 0.126
MNIST_STROKE_BAND = (0.082, 0.200)
MIN_CONTRAST = 0.06      # weakest ink (fraction of full scale) that counts as a stroke
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
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ImageError(f"cannot read the file ({err.strerror or err})", path) from None
    if not data:
        raise ImageError("empty file (0 bytes)", path)
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


def prepare_image(img):
    """Returns the 28x28 float32 MNIST-style version of a PIL image of one digit (white ink on black).

    Raises ImageError for a zero-sized image or one without ink (blank).
    """
    if img.width == 0 or img.height == 0:
        raise ImageError(f"zero-sized image ({img.width}x{img.height} pixels)")
    pixels = to_pixels(img)
    ink, stroke = _ink_map(pixels)
    mask, strong_level = _ink_mask(ink)
    digit = _select_digit(_without_ruled_lines(mask, stroke), ink)
    soft = _crop_soft(ink, digit, strong_level)
    strokes = _normalise_strokes(soft)
    return _centre_by_mass(_fit_box(strokes))


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
        return _resize(values, size, Image.Resampling.BOX)[..., np.newaxis]
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


def _resize(values, size, resample):
    """Resizes a 2-D float array to size (width, height) with Pillow's float ("F") resampling."""
    return np.asarray(Image.fromarray(values.astype(np.float32)).resize(size, resample))


def _ink_map(pixels):
    """(ink, stroke): (H, W) float32 ink strength >= 0, each pixel's largest per-channel deviation
    from the background, and a first estimate of the stroke width in pixels."""
    luma = pixels @ LUMA if pixels.shape[2] == 3 else pixels[..., 0]
    dark, stroke = _polarity(luma)
    # The background filter must be wider than any stroke but is kept small enough to follow shading.
    size = _odd(min(max(4 * stroke, max(luma.shape) / 8), max(luma.shape)))
    ink = np.zeros(luma.shape, dtype=np.float32)
    for channel in np.moveaxis(pixels, 2, 0):
        smooth = ndi.gaussian_filter(channel, 1.0)
        if dark:
            ink = np.maximum(ink, ndi.grey_closing(smooth, size=(size, size)) - channel)
        else:
            ink = np.maximum(ink, channel - ndi.grey_opening(smooth, size=(size, size)))
    # Averaging over a fraction of the stroke width suppresses sensor noise and paper grain.
    return ndi.gaussian_filter(np.clip(ink, 0, None), float(np.clip(stroke / 8, 0.5, 3.0))), stroke


def _polarity(luma):
    """(dark, stroke width): whether the ink is darker than the background, and a first estimate of
    its stroke width in pixels.

    The ink is the strongest deviation from a coarse median background (which ignores strokes,
    shadows and glare) in long thin strokes: whichever side (darker or lighter) holds clearly more
    of the deviations beyond half the strongest one, divided by its squared stroke width (a sheet of
    paper on a dark desk is light but wide). When neither does, the border, mostly background, decides.
    """
    height, width = luma.shape
    scale = min(1.0, 32 / max(height, width))
    small = _resize(luma, (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    background = ndi.median_filter(small, size=_odd(max(small.shape) / 2), mode="nearest")
    # Light smoothing keeps grainy strokes (chalk, pencil) whole.
    deviation = ndi.gaussian_filter(luma - _resize(background, (width, height), Image.Resampling.BILINEAR), 1.0)
    spread = 1.4826 * float(np.median(np.abs(deviation - np.median(deviation))))
    level = max(0.5 * float(np.percentile(np.abs(deviation), 99.95)), 4 * spread)
    # Ink is long thin strokes: score each side by its excess deviation over its squared stroke width
    # (about length / width), so that wide blobs (glare, a sheet of paper on a desk) count little.
    widths = {side: _stroke_width(side * deviation > level) for side in (-1, 1)}
    score = {side: np.clip(side * deviation - level, 0, None).sum() / max(widths[side], 1.0) ** 2 for side in (-1, 1)}
    if min(score.values()) <= 0.5 * max(score.values()):
        dark = score[-1] > score[1]
    else:  # as much dark as light (a tightly cropped digit): the border is mostly background
        border = np.concatenate([luma[0], luma[-1], luma[:, 0], luma[:, -1]])
        dark = np.median(border) > luma.mean()
    return dark, widths[-1 if dark else 1]


def _odd(value):
    """The odd integer >= 3 nearest to value (filter sizes)."""
    return max(3, int(value) // 2 * 2 + 1)


def _ink_mask(ink):
    """(mask, strong level): hysteresis threshold of the ink map; ImageError when there is no ink.

    Pixels above the strong level (Otsu, kept between the noise floor, 5 sigma above the background,
    and half the peak ink) seed the strokes; connected pixels above half that level (never below
    the noise floor) join them.
    """
    # Background level and noise from the lower quarter of the values, as if Gaussian: a tightly
    # cropped digit may cover half the image, so the median can be ink.
    low, quartile = np.percentile(ink, [5, 25])
    noise = (quartile - low) / 0.97
    floor = quartile + 5.7 * noise + 0.02
    candidates = ink[ink > floor]
    peak = float(np.percentile(candidates, 99)) if candidates.size else 0.0
    if peak < max(MIN_CONTRAST, 1.5 * floor):
        raise ImageError("no ink found (blank image)")
    strong_level = max(floor, min(_otsu(ink), 0.5 * peak))
    weak = ink >= max(floor, 0.5 * strong_level)
    labels, count = ndi.label(weak, structure=np.ones((3, 3)))
    seeded = np.zeros(count + 1, dtype=bool)
    seeded[np.unique(labels[ink >= strong_level])] = True
    seeded[0] = False
    return seeded[labels], strong_level


def _otsu(values, bins=256):
    """Otsu's threshold of an array (maximises the between-class variance of its histogram)."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, float(values.max()) or 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    total = weight[-1]
    cumulative_mean = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (cumulative_mean[-1] * weight - total * cumulative_mean) ** 2 / (weight * (total - weight))
    return float(edges[1:][np.nanargmax(np.where(weight < total, between, np.nan))])


def _without_ruled_lines(mask, stroke):
    """The ink mask without the lines of ruled or squared paper; where a stroke crosses a line it stays.

    Candidates are thin pixels (at most 1.5 stroke widths across the line direction); _on_ruling
    decides which lie on a ruling. Nothing is removed if too little ink would remain (a tightly
    cropped "1" is not a ruling).
    """
    kept = mask.copy()
    for across in (0, 1):  # 0: horizontal lines (thin across rows), 1: vertical lines
        thin = kept & (_run_lengths(kept, across) <= max(2.0, 1.5 * stroke))
        kept[thin] &= ~_on_ruling(thin, across)
    # What remains must still hold a stroke a tenth of the image long, else the "ruling" was the digit.
    return kept if kept.sum() >= 0.1 * max(mask.shape) * stroke else mask


def _on_ruling(thin, across):
    """For each pixel of `thin` (in np.nonzero order), whether it lies on a ruling across axis `across`.

    A small Hough transform over tilts of -5..5 degrees measures, for each line, how much of the span
    its pixels (within one pixel of it) cover. A ruling is two or more evenly spaced parallel lines
    covering 30% of the span and 60 px each, which then also takes fainter lines (10%) at that
    spacing, or a line covering 90% of the span. Hand-drawn strokes are rarely that long and straight.
    """
    points = np.nonzero(thin)
    position, offset = points if across == 0 else points[::-1]
    span = thin.shape[1 - across]
    if position.size < 0.3 * span:
        return np.zeros(position.size, dtype=bool)
    best_count, intercept = -1, None
    for slope in np.tan(np.radians(np.arange(-5, 5.01, 0.25))):
        candidate = np.round(position - offset * slope).astype(int)
        candidate += 1 - candidate.min()
        count = np.convolve(np.bincount(candidate), np.ones(3), mode="same").max()
        if count > best_count:
            best_count, intercept = count, candidate
    # coverage[b]: how many distinct positions along the line have a pixel within one of intercept b
    cells = np.unique(np.concatenate([(intercept + d) * span + offset for d in (-1, 0, 1)]))
    coverage = np.bincount(cells // span)
    # Rulings are thin (at most 6 neighbouring intercepts, about 4 px) and a hand-drawn stroke is not
    # straight to a pixel over 60 px, so shorter or wider "lines" are never part of a ruling.
    lines = np.flatnonzero(_narrow(coverage >= max(0.9 * span, 60)))
    strong = np.flatnonzero(_narrow(coverage >= max(0.3 * span, 60)))
    starts = strong[np.r_[True, np.diff(strong) > 1]] if strong.size else strong
    if starts.size >= 2:
        gaps = np.diff(starts) / np.diff(starts).min()
        if np.all(np.abs(gaps - np.round(gaps)) <= 0.2):
            phase = (np.arange(coverage.size) - starts[0] + 2) % np.diff(starts).min()
            lines = np.union1d(strong, np.flatnonzero((coverage >= 0.1 * span) & (phase <= 4)))
    return np.isin(intercept, np.concatenate([lines - 1, lines, lines + 1]))


def _narrow(flags, width=6):
    """A 1-D boolean array keeping only its runs of True no longer than `width`."""
    return flags & (_run_lengths(flags[np.newaxis], 1)[0] <= width)


def _run_lengths(mask, axis):
    """For each True pixel, the length of the unbroken run of True pixels through it along `axis`."""
    runs = np.moveaxis(mask, axis, -1)
    edges = np.diff(np.pad(runs, [(0, 0), (1, 1)]).astype(np.int8), axis=-1)
    lengths = np.flatnonzero(edges.ravel() == -1) - np.flatnonzero(edges.ravel() == 1)
    out = np.zeros(runs.shape, dtype=np.int32)
    out[runs] = np.repeat(lengths, lengths)
    return np.moveaxis(out, -1, axis)


def _select_digit(mask, ink):
    """Boolean mask of the digit's components: the main one plus nearby pieces of similar scale.

    Main: the component with the most ink weighted by closeness to the centre (1 there, 0 on the
    border), so page edges, shadows and specks lose to the digit even when it touches the border.
    Pieces at least 1.5% as heavy as the main component, within a quarter of the digit's size and not
    stretching it beyond 1.6 times the main component join it (the 5's bar, broken strokes).
    """
    labels, count = ndi.label(mask, structure=np.ones((3, 3)))
    boxes = [(s[0].start, s[0].stop, s[1].start, s[1].stop) for s in ndi.find_objects(labels)]
    mass = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    height, width = mask.shape
    rows, cols = np.arange(height) + 0.5, np.arange(width) + 0.5
    inward = np.minimum(np.minimum(rows, height - rows)[:, None] / (height / 2),
                        np.minimum(cols, width - cols)[None, :] / (width / 2))
    central = np.bincount(labels.ravel(), weights=(ink * inward).ravel(), minlength=count + 1)[1:]
    main = int(np.argmax(central))
    group, members = boxes[main], {main}
    limit = 1.6 * _extent(boxes[main])
    changed = True
    while changed:
        changed = False
        for index in np.flatnonzero(mass >= 0.015 * mass[main]):
            if index in members:
                continue
            merged = _union(group, boxes[index])
            if _gap(group, boxes[index]) <= 0.25 * _extent(group) and _extent(merged) <= limit:
                group, changed = merged, True
                members.add(int(index))
    return np.isin(labels, [m + 1 for m in members])


def _union(a, b):
    """Bounding box (top, bottom, left, right) covering boxes a and b."""
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def _gap(a, b):
    """Chebyshev distance in pixels between two boxes (0 when they overlap)."""
    return max(0, b[0] - a[1], a[0] - b[1], b[2] - a[3], a[2] - b[3])


def _extent(box):
    """Longer side of a box."""
    return max(box[1] - box[0], box[3] - box[2])


def _crop_soft(ink, digit, strong_level):
    """The digit's crop with ink scaled by the local stroke peak (faint and strong strokes -> 1.0)."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    region = (slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(cols[0] - 1, 0), cols[-1] + 2))
    strokes, values = digit[region], ink[region]
    halo = ndi.binary_dilation(strokes, structure=np.ones((3, 3)))  # anti-aliased stroke edges
    window = _odd(2 * _stroke_width(strokes) + 1)
    peak = np.maximum(ndi.maximum_filter(values * strokes, size=window), strong_level)
    return np.clip(values * halo / peak, 0, 1)


def _stroke_width(binary):
    """Mean stroke width in pixels of a binary image: a stroke w px wide has a mean inner distance
    to the background of about (w + 2) / 4."""
    if not binary.any():
        return 0.0
    return max(1.0, 4 * float(ndi.distance_transform_edt(np.pad(binary, 1))[1:-1, 1:-1][binary].mean()) - 2)


def _normalise_strokes(soft):
    """Binary digit with a STROKE_SCALE longer side whose stroke width is within MNIST's range."""
    height, width = soft.shape
    scale = STROKE_SCALE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 1:
        grey = _resize(soft, size, Image.Resampling.BOX)
        # A stroke thinner than one output pixel is averaged down to a proportionally lower peak.
        threshold = min(0.5, 0.4 * _stroke_width(soft > 0.5) * scale)
    else:
        grey, threshold = _resize(soft, size, Image.Resampling.BILINEAR), 0.5
    binary = _crop_to_ink(grey >= max(threshold, 0.05))
    if not binary.any():
        raise ImageError("no ink found (blank image)")
    stroke = _stroke_width(binary)
    if MNIST_STROKE_BAND[0] <= stroke / max(binary.shape) <= MNIST_STROKE_BAND[1]:
        return binary
    # Growing (shrinking) strokes by r px on each side also grows (shrinks) the box by 2r.
    radius = round((MNIST_STROKE_RATIO * max(binary.shape) - stroke) / (2 * (1 - MNIST_STROKE_RATIO)))
    radius = max(radius, -int(0.3 * stroke))  # never erode a stroke to less than 40% of its width
    if radius > 0:
        padded = np.pad(binary, radius)
        return _crop_to_ink(ndi.distance_transform_edt(~padded) <= radius)
    if radius < 0:
        eroded = ndi.distance_transform_edt(np.pad(binary, 1))[1:-1, 1:-1] > -radius
        return _crop_to_ink(eroded) if eroded.any() else binary
    return binary


def _crop_to_ink(binary):
    """The smallest sub-array holding every True pixel (unchanged when there is none)."""
    if not binary.any():
        return binary
    rows, cols = np.flatnonzero(binary.any(axis=1)), np.flatnonzero(binary.any(axis=0))
    return binary[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fit_box(binary):
    """Area-averages a binary digit so its longer side is BOX_SIZE px (MNIST's anti-aliasing)."""
    height, width = binary.shape
    scale = BOX_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.clip(_resize(binary.astype(np.float32), size, Image.Resampling.BOX), 0, 1)


def _centre_by_mass(box):
    """Pastes a digit into a CANVAS_SIZE square so its centre of mass lands on the centre pixel."""
    height, width = box.shape
    centre_y, centre_x = ndi.center_of_mass(box)
    middle = CANVAS_SIZE // 2
    top = int(np.clip(round(middle - centre_y), 0, CANVAS_SIZE - height))
    left = int(np.clip(round(middle - centre_x), 0, CANVAS_SIZE - width))
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.float32)
    canvas[top:top + height, left:left + width] = box
    return canvas

"""Steps 2-4: from float pixels to a mask of the ink.

`ink_map(pixels)` reads (H, W, C) float32 pixels (as decode.to_pixels returns them) and returns
the ink strength (H, W) float32 >= 0 with the background removed, whichever the ink's polarity
(dark on light or light on dark), a first estimate of the stroke width in pixels and whether the
picture is a digit cropped close to its ink (two flat tones, ink on the border). Such a crop first
gets a margin of paper, so its ink map is larger than the picture: strokes on the edge are then
seen whole by every later step.
`ink_mask(ink)` returns the boolean strokes (a hysteresis threshold between a noise floor and
Otsu's level) and the strong level; ImageError("no ink found (blank image)") when there is no ink.
"""
import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage.filters import apply_hysteresis_threshold, threshold_otsu

from mnist_pipeline.predict.arrays import odd, resize, stroke_width
from mnist_pipeline.predict.decode import LUMA, ImageError

MIN_CONTRAST = 0.06  # weakest ink (fraction of full scale) that counts as a stroke
TWO_TONE = 0.8       # Otsu's between-class share of the variance above which a picture is two flat tones
NARROW = (8, 0.5)    # in a picture at most 8 px wide or high, anti-aliased edges are much of it: 50% is enough


def ink_map(pixels):
    """(ink, stroke, tight): (H, W) float32 ink strength >= 0, each pixel's largest per-channel
    deviation from the background, a first estimate of the stroke width in pixels, and whether the
    picture is a digit cropped close to its ink (tight_crop), so that all its ink is the digit.

    The background is a morphological closing (opening for light ink) per channel, wider than the
    strokes: subtracting it removes paper texture, shadows and uneven light but keeps every stroke,
    and coloured ink keeps its full contrast.
    """
    luma = pixels @ LUMA if pixels.shape[2] == 3 else pixels[..., 0]
    tight = tight_crop(luma)
    if tight is None:
        dark, stroke = polarity(luma)
    else:
        dark, ink_tone = tight
        stroke = stroke_width(ink_tone)
        pixels = with_margin(pixels, ~ink_tone, round(max(2 * stroke + 2, max(luma.shape) / 4)))
    # The background filter must be wider than any stroke but is kept small enough to follow shading.
    side = max(pixels.shape[:2])
    size = odd(min(max(4 * stroke, side / 8), side))
    ink = np.zeros(pixels.shape[:2], dtype=np.float32)
    for channel in np.moveaxis(pixels, 2, 0):
        smooth = ndi.gaussian_filter(channel, 1.0)
        if dark:
            ink = np.maximum(ink, ndi.grey_closing(smooth, size=(size, size)) - channel)
        else:
            ink = np.maximum(ink, channel - ndi.grey_opening(smooth, size=(size, size)))
    ink = np.clip(ink, 0, None)
    if tight is not None:  # two flat tones have no grain to average away, and blurring closes small holes
        return ink, stroke, True
    # Averaging over a fraction of the stroke width suppresses sensor noise and paper grain.
    return ndi.gaussian_filter(ink, float(np.clip(stroke / 8, 0.5, 3.0))), stroke, False


def polarity(luma):
    """(dark, stroke width): whether the ink is darker than the background, and a first estimate of
    its stroke width in pixels.

    The ink is the strongest deviation from a coarse median background (which ignores strokes,
    shadows and glare) in long thin strokes: whichever side (darker or lighter) holds clearly more
    of the deviations beyond half the strongest one, divided by its squared stroke width (a sheet of
    paper on a dark desk is light but wide). When neither does, the border, mostly background, decides.
    """
    height, width = luma.shape
    scale = min(1.0, 32 / max(height, width))
    small = resize(luma, (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    background = ndi.median_filter(small, size=odd(max(small.shape) / 2), mode="nearest")
    # Light smoothing keeps grainy strokes (chalk, pencil) whole.
    deviation = ndi.gaussian_filter(luma - resize(background, (width, height), Image.Resampling.BILINEAR), 1.0)
    spread = 1.4826 * float(np.median(np.abs(deviation - np.median(deviation))))
    level = max(0.5 * float(np.percentile(np.abs(deviation), 99.95)), 4 * spread)
    # Ink is long thin strokes: score each side by its excess deviation over its squared stroke width
    # (about length / width), so that wide blobs (glare, a sheet of paper on a desk) count little.
    widths = {side: stroke_width(side * deviation > level) for side in (-1, 1)}
    score = {side: np.clip(side * deviation - level, 0, None).sum() / max(widths[side], 1.0) ** 2 for side in (-1, 1)}
    if min(score.values()) <= 0.5 * max(score.values()) and max(score.values()) > 0:
        dark = score[-1] > score[1]
    else:  # as much dark as light, or neither stands out: the border is mostly background
        border = np.concatenate([luma[0], luma[-1], luma[:, 0], luma[:, -1]])
        dark = np.median(border) > luma.mean()
    return dark, widths[-1 if dark else 1]


def tight_crop(luma):
    """(dark, ink tone) for a digit cropped close to its ink, None for any other picture.

    Such a picture (a scan, a binarised or digital drawing) is two flat tones, paper and ink (Otsu's
    two classes hold at least TWO_TONE of the variance, NARROW's share in a picture a few pixels wide,
    such as a bold 1, where the anti-aliased edges are most pixels), and both reach the border. The ink is so
    large a part of it that no neighbourhood is mostly paper, so polarity's background estimate
    fails. The paper is the tone of the four corners when they agree (a narrow digit, a bold 1
    a few pixels wide, covers most of the border, but its round ends leave the corners paper), else
    the tone holding most of the border. The ink tone is a boolean (H, W) mask.
    """
    if np.ptp(luma) == 0:
        return None
    light = luma > threshold_otsu(luma, nbins=256)
    share = light.mean()
    between = share * (1 - share) * (luma[light].mean() - luma[~light].mean()) ** 2
    border = np.concatenate([light[0], light[-1], light[:, 0], light[:, -1]])
    two_tone = NARROW[1] if min(luma.shape) <= NARROW[0] else TWO_TONE
    if between < two_tone * luma.var() or border.all() or not border.any():
        return None
    corners = light[[0, 0, -1, -1], [0, -1, 0, -1]]
    dark = bool(corners[0]) if corners.all() or not corners.any() else bool(border.mean() > 0.5)
    return dark, ~light if dark else light


def with_margin(pixels, paper, margin):
    """(H, W, C) pixels framed by `margin` px of the paper's tone (per channel, the median over the
    boolean `paper` mask)."""
    tone = np.median(pixels[paper], axis=0)
    framed = np.empty((pixels.shape[0] + 2 * margin, pixels.shape[1] + 2 * margin, pixels.shape[2]), np.float32)
    framed[:] = tone
    framed[margin:-margin, margin:-margin] = pixels
    return framed


def ink_mask(ink):
    """(mask, strong level): hysteresis threshold of the ink map; ImageError when there is no ink.

    Pixels above the strong level (Otsu, kept between the noise floor, 5 sigma above the background,
    and half the peak ink) seed the strokes; connected pixels above half that level (never below
    the noise floor) join them, so faint strokes that touch strong ones survive.
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
    strong_level = max(floor, min(float(threshold_otsu(ink, nbins=256)), 0.5 * peak))
    return apply_hysteresis_threshold(ink, max(floor, 0.5 * strong_level), strong_level), strong_level

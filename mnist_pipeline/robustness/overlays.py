"""Corruptions that lay something over the digit: stripes, spatter, a dotted line and a zigzag (MNIST-C,
Mu & Gilmer 2019).

Each function takes images float (n, 28, 28) in [0, 1] and a numpy Generator and returns new float32 images
of the same shape in [0, 1], at the one severity MNIST-C uses for it. Lines are about 2 px wide and as
bright as ink, anti-aliased at their edges.
"""
import numpy as np
from scipy import ndimage as ndi

STRIPE_PX = 7             # the left and right bands this wide are inverted
SPATTER_MEAN, SPATTER_SPREAD, SPATTER_GRAIN = 0.65, 0.3, 1.0  # the liquid: Gaussian noise blurred by GRAIN px
SPATTER_LEVEL = 0.65      # liquid above this level lands on the image
SPATTER_SPREAD_PX = 1.5   # the drops' edges blurred by this much; only their solid cores (>= 0.8) are kept
SPATTER_CORE = 0.8
MUD = 63 / 255            # the drops' grey
DASH_PX = 2               # the dotted line: 2 px on, 2 px off
ZIGZAG_COLUMNS = (2, 25)  # the zigzag runs between these columns,
ZIGZAG_RISE = 5           # ends up to this many px higher or lower than it starts,
ZIG_PX, ZAG_PX = 2.0, 2.0  # and turns every 2 * ZIG_PX px along its length, ZAG_PX px either side
LINE_CORE_PX, LINE_FADE_PX = 0.5, 1.0  # a line is solid this close to its centre, then fades over FADE_PX


def stripe(images, rng):
    """The left and right STRIPE_PX columns inverted (ink black, background white)."""
    out = images.astype(np.float32, copy=True)
    for band in (slice(0, STRIPE_PX), slice(images.shape[2] - STRIPE_PX, None)):
        out[:, :, band] = 1 - out[:, :, band]
    return out


def spatter(images, rng):
    """Drops of grey mud: blurred noise above SPATTER_LEVEL, softened, and where solid it covers the image."""
    liquid = ndi.gaussian_filter(rng.normal(SPATTER_MEAN, SPATTER_SPREAD, images.shape),
                                 (0, SPATTER_GRAIN, SPATTER_GRAIN))
    drops = ndi.gaussian_filter((liquid > SPATTER_LEVEL).astype(np.float64), (0, SPATTER_SPREAD_PX, SPATTER_SPREAD_PX))
    drops[drops < SPATTER_CORE] = 0
    return np.clip(images * (1 - drops) + MUD * drops, 0, 1).astype(np.float32)


def _line(points, shape):
    """Intensity (H, W) of the polyline through points [(row, col), ...]."""
    grid = np.stack(np.mgrid[0:shape[0], 0:shape[1]], axis=-1).astype(np.float64)
    distance = np.full(shape, np.inf)
    for start, end in zip(points[:-1], points[1:]):
        along = end - start
        t = np.clip(((grid - start) @ along) / max(along @ along, 1e-12), 0, 1)
        distance = np.minimum(distance, np.linalg.norm(grid - start - t[..., None] * along, axis=-1))
    return np.clip(1 - (distance - LINE_CORE_PX) / LINE_FADE_PX, 0, 1)


def dotted_line(images, rng):
    """A dotted line from the left edge to the right edge at random heights, DASH_PX on and off, added."""
    n, height, width = images.shape
    rows = rng.integers(0, height - 1, size=(n, 2))
    dashes = (np.arange(width) // DASH_PX) % 2 == 1
    lines = np.stack([_line(np.array([[r0, 0], [r1, width - 1]], dtype=np.float64), (height, width))
                      for r0, r1 in rows]) * dashes
    return np.clip(images + lines, 0, 1).astype(np.float32)


def _zigzag_points(start, end):
    """The corners of a zigzag from start to end (row, col): out ZAG_PX to alternate sides every 2 * ZIG_PX."""
    length = np.linalg.norm(end - start)
    along = (end - start) / length
    across = np.array([along[1], -along[0]])
    steps = np.arange(ZIG_PX, length, 2 * ZIG_PX)
    sides = np.where(np.arange(len(steps)) % 2 == 0, ZAG_PX, -ZAG_PX)
    corners = start + steps[:, None] * along + sides[:, None] * across
    return np.vstack([start, corners, end])


def zigzag(images, rng):
    """A zigzag line across the image between ZIGZAG_COLUMNS, at a random height and slant, added."""
    n, height, width = images.shape
    first, last = ZIGZAG_COLUMNS
    starts = rng.integers(0, height - 1, size=n)
    ends = starts + rng.integers(-ZIGZAG_RISE, ZIGZAG_RISE, size=n)
    lines = np.stack([_line(_zigzag_points(np.array([r0, first], float), np.array([r1, last], float)),
                            (height, width)) for r0, r1 in zip(starts, ends)])
    return np.clip(images + lines, 0, 1).astype(np.float32)

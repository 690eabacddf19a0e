"""Step 5: picks the digit among the connected pieces of ink.

`select_digit(mask, ink, whole)` reads the boolean ink mask (H, W) and the ink strength (H, W) and
returns a boolean mask of the digit: the component with the most ink near the centre (so page edges,
shadows and specks lose) plus nearby pieces of similar scale (the 5's bar, broken strokes); in a
picture cropped close to its digit (`whole`) every piece but specks.
"""
import numpy as np
from skimage.measure import label, regionprops


def select_digit(mask, ink, whole=False):
    """Boolean mask of the digit's components: the main one plus nearby pieces of similar scale.

    Main: the component with the most ink weighted by closeness to the centre (1 there, 0 on the
    border), so page edges, shadows and specks lose to the digit even when it touches the border.
    Pieces at least 1.5% as heavy as the main component, within a quarter of the digit's size and not
    stretching it beyond 1.6 times the main component join it (the 5's bar, broken strokes). When the
    picture is cropped close to the digit (`whole`), there is nothing else in it: every piece that
    heavy joins, however far it stretches the main one (a 9's loop and stem drawn apart, a 3's halves).
    """
    labels = label(mask, connectivity=2)
    height, width = mask.shape
    rows, cols = np.arange(height) + 0.5, np.arange(width) + 0.5
    inward = np.minimum(np.minimum(rows, height - rows)[:, None] / (height / 2),
                        np.minimum(cols, width - cols)[None, :] / (width / 2))
    regions = regionprops(labels, intensity_image=np.stack([ink, ink * inward], axis=-1))
    boxes = [region.bbox for region in regions]  # (top, left, bottom, right)
    mass, central = np.array([region.intensity_mean * region.area for region in regions]).T
    main = int(np.argmax(central))
    if whole:
        return np.isin(labels, [regions[i].label for i in np.flatnonzero(mass >= 0.015 * mass[main])])
    group, members = boxes[main], {main}
    limit = 1.6 * extent(boxes[main])
    changed = True
    while changed:
        changed = False
        for index in np.flatnonzero(mass >= 0.015 * mass[main]):
            if index in members:
                continue
            merged = union(group, boxes[index])
            if gap(group, boxes[index]) <= 0.25 * extent(group) and extent(merged) <= limit:
                group, changed = merged, True
                members.add(int(index))
    return np.isin(labels, [regions[m].label for m in members])


def union(a, b):
    """Bounding box (top, left, bottom, right) covering boxes a and b."""
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def gap(a, b):
    """Chebyshev distance in pixels between two boxes (0 when they overlap)."""
    return max(0, b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3])


def extent(box):
    """Longer side of a box."""
    return max(box[2] - box[0], box[3] - box[1])

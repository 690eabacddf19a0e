"""The training augmentation (mnist_pipeline.augment): the affine warp and each picture change, checked on small
batches against SciPy's filters and against what each param promises."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from mnist_pipeline import augment
from mnist_pipeline.schema import Augment

NONE = Augment(rotation_deg=0, zoom=0, shift_px=0)
SEED = np.array([3, 4])


def digits(count=64):
    """`count` (count, 28, 28, 1) float32 images: a bar of ink in [0.6, 1] on black, at varied places."""
    rng = np.random.default_rng(0)
    images = np.zeros((count, 28, 28, 1), np.float32)
    for image in images:
        top, left = rng.integers(4, 14, size=2)
        image[top:top + 10, left:left + 3] = rng.uniform(0.6, 1)
    return images


def changed(before, after):
    """Per image: whether any pixel changed."""
    return np.abs(after - before).reshape(len(before), -1).max(axis=1) > 1e-6


def test_all_zero_is_the_identity():
    images = digits()
    np.testing.assert_array_equal(augment.augmented(images, SEED, NONE), images)


def test_shift_moves_pixels_without_fading_them():
    images = np.zeros((2, 28, 28, 1), np.float32)
    images[:, 10, 12] = 1.0
    moved = augment.random_affine(images, SEED, NONE.model_copy(update={"shift_px": 3})).numpy()
    assert not np.allclose(moved, images)
    np.testing.assert_allclose(moved.sum(axis=(1, 2, 3)), 1.0, atol=0.05)


def test_neighbourhood_filters_match_scipy():
    images = np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32)
    flat = images[..., 0]
    np.testing.assert_allclose(augment.dilated(images).numpy()[..., 0],
                               ndi.grey_dilation(flat, size=(1, 3, 3), mode="constant"), atol=1e-6)
    np.testing.assert_allclose(augment.blurred(images).numpy()[..., 0],
                               ndi.gaussian_filter(flat, sigma=(0, 1, 1), truncate=2, mode="constant"), atol=1e-5)


@pytest.mark.parametrize("field, value", [("stroke", 1), ("lines", 1), ("blur", 1), ("erase_px", 8),
                                          ("contrast", 0.3), ("noise", 0.15)])
def test_each_change_reaches_about_half_the_images_repeatably(field, value):
    images = np.random.default_rng(2).uniform(0.1, 0.9, (400, 28, 28, 1)).astype(np.float32)  # any change shows
    recipe = NONE.model_copy(update={field: value})
    once = augment.augmented(images, SEED, recipe).numpy()
    assert once.shape == images.shape and once.min() >= 0 and once.max() <= 1
    np.testing.assert_array_equal(once, augment.augmented(images, SEED, recipe).numpy())
    assert not np.array_equal(once, augment.augmented(images, SEED + 1, recipe).numpy())
    share = changed(images, once).mean()
    assert augment.PICTURE_SHARE - 0.1 < share <= augment.PICTURE_SHARE + 0.1


def test_contrast_lifts_the_paper_and_fades_the_ink_within_its_bound():
    images = digits(200)
    out = augment.augmented(images, SEED, NONE.model_copy(update={"contrast": 0.3})).numpy()
    paper, ink = images == 0, images > 0
    assert out[paper].max() <= 0.3 + 1e-6 and out[paper].max() > 0.2
    assert np.all(out[ink] >= 0.6 * 0.4 + 0.3 * 0.6 - 1e-6)  # the faintest ink at the weakest contrast
    assert np.all(np.diff(np.sort(np.unique(out[0])), prepend=-1) > 0)  # an image's tones keep their order


def test_erase_hides_one_square_of_at_most_erase_px():
    images = np.ones((100, 28, 28, 1), np.float32)
    out = augment.augmented(images, SEED, NONE.model_copy(update={"erase_px": 8})).numpy()[..., 0]
    assert set(np.unique(out)) <= {0.0, 1.0}
    for hidden in out == 0:
        if hidden.any():
            rows, cols = np.nonzero(hidden)
            height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
            assert height == width <= 8 and hidden.sum() == height * width


def test_stroke_makes_ink_thicker_or_thinner():
    images = digits(200)
    out = augment.augmented(images, SEED, NONE.model_copy(update={"stroke": 1})).numpy()
    ink_before, ink_after = images.sum(axis=(1, 2, 3)), out.sum(axis=(1, 2, 3))
    assert np.any(ink_after > ink_before * 1.2) and np.any(ink_after < ink_before * 0.8)


def test_lines_cross_the_image_straight_near_its_centre_solid_or_dashed():
    blank = np.zeros((300, 28, 28, 1), np.float32)
    out = augment.augmented(blank, SEED, NONE.model_copy(update={"lines": 1})).numpy()[..., 0]
    dashed = 0
    for image in out[changed(blank, out[..., None])]:
        rows, cols = np.nonzero(image > image.max() / 2)  # the line's core; its ink is drawn up to `lines`
        points = np.stack([rows, cols], axis=1) - 13.5
        centre = points.mean(axis=0)
        spread = np.linalg.svd(points - centre, compute_uv=False) / np.sqrt(len(points))
        assert spread[1] < 1.0 < spread[0]  # one straight line, at most LINE_WIDTH_PX wide
        direction = np.linalg.svd(points - centre)[2][0]
        assert abs(np.cross(direction, -centre)) <= augment.LINE_OFFSET_PX + 1.5  # passes near the centre
        along = np.sort((points - centre) @ direction)
        dashed += np.diff(along).max() > 1.5
    assert 0.25 < dashed / changed(blank, out[..., None]).sum() < 0.75


def test_lines_leave_the_other_changes_drawing_as_before():
    images = digits(200)
    noisy = NONE.model_copy(update={"noise": 0.15, "stroke": 1})
    without = augment.augmented(images, SEED, noisy).numpy()
    with_lines = augment.augmented(images, SEED, noisy.model_copy(update={"lines": 1})).numpy()
    no_line = ~changed(without, with_lines)
    assert 0.3 < no_line.mean() < 0.7
    np.testing.assert_array_equal(with_lines[no_line], without[no_line])

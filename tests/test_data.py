"""Prepared arrays: normalisation, the stratified split, atomic saving and safe loading."""
import numpy as np
import pytest

from mnist_pipeline.data import DataError, load_split, normalise, save_split, stratified_split


def test_normalise_scales_to_unit_range_and_adds_channel():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    x = normalise(images)
    assert x.dtype == np.float32 and x.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(x[0, :, :, 0], [[0, 1], [0.2, 0.4]])


def test_stratified_split_keeps_class_shares_and_is_seeded():
    labels = np.repeat(np.arange(10), [100, 200, 50, 100, 100, 100, 100, 100, 100, 50])
    train, val = stratified_split(labels, 0.2, seed=3)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(labels)
    np.testing.assert_array_equal(np.bincount(labels[val]), np.bincount(labels) // 5)
    again_train, again_val = stratified_split(labels, 0.2, seed=3)
    np.testing.assert_array_equal(val, again_val)
    assert not np.array_equal(val, stratified_split(labels, 0.2, seed=4)[1])


def test_save_and_load_split(tmp_path):
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    y = np.array([1, 2, 3, 4], dtype=np.uint8)
    save_split(tmp_path, "val", x, y)
    loaded_x, loaded_y = load_split(tmp_path, "val")
    np.testing.assert_array_equal(loaded_x, x)
    np.testing.assert_array_equal(loaded_y, y)
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_load_refuses_pickled_and_missing_arrays(tmp_path):
    np.save(tmp_path / "x_test.npy", np.array([{"code": "runs"}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "y_test.npy", np.zeros(1, dtype=np.uint8))
    with pytest.raises(DataError, match=r"x_test.npy: not a valid NumPy array file"):
        load_split(tmp_path, "test")
    with pytest.raises(DataError, match=r"x_train.npy: not found; run the preprocess stage first"):
        load_split(tmp_path, "train")


def test_load_checks_shapes(tmp_path):
    save_split(tmp_path, "test", np.zeros((3, 28, 28, 1), np.float32), np.zeros(2, np.uint8))
    with pytest.raises(DataError, match=r"x_test \(3, 28, 28, 1\) and y_test \(2,\) do not match"):
        load_split(tmp_path, "test")

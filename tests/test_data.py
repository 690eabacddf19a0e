"""Prepared arrays: normalisation, the stratified split, atomic saving and safe loading."""
import io
import os
import tracemalloc

import numpy as np
import pytest

from mnist_pipeline.data import DataError, load_split, normalise, save_split, stratified_split
from mnist_pipeline.files import InputError, save_array


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
    with pytest.raises(DataError, match=r"x_test.npy: not a valid NumPy array file \(it holds Python objects"):
        load_split(tmp_path, "test")
    with pytest.raises(InputError, match=r"x_train.npy: not found; run the preprocess stage first \(dvc repro\)$"):
        load_split(tmp_path, "train")


GOOD_X = np.full((3, 28, 28, 1), 0.5, np.float32)
GOOD_Y = np.array([0, 9, 4], np.uint8)


@pytest.mark.parametrize("x, y, message", [
    (GOOD_X[..., 0], GOOD_Y, r"x_test.npy: shape \(3, 28, 28\); expected images of shape \(N, 28, 28, 1\)"),
    (np.zeros((3, 32, 32, 1), np.float32), GOOD_Y, r"x_test.npy: shape \(3, 32, 32, 1\); expected images of shape "
                                                        r"\(N, 28, 28, 1\)"),
    (GOOD_X.astype(np.uint8), GOOD_Y, r"x_test.npy: dtype uint8; expected float pixel values in \[0, 1\]"),
    (GOOD_X[:0], GOOD_Y[:0], r"x_test.npy: holds no images"),
    (GOOD_X, GOOD_Y[:, None], r"y_test.npy: shape \(3, 1\); expected labels of shape \(N,\)"),
    (GOOD_X, GOOD_Y.astype(np.float32), r"y_test.npy: dtype float32; expected integer labels"),
    (GOOD_X, GOOD_Y[:2], r"y_test.npy: 2 labels but \S+/x_test.npy has 3 images"),
    (GOOD_X * 255, GOOD_Y, r"x_test.npy: pixel values must be in \[0, 1\]; found values from 127.5 to 127.5"),
    (GOOD_X - 1, GOOD_Y, r"x_test.npy: pixel values must be in \[0, 1\]; found values from -0.5 to -0.5"),
    (np.where(np.arange(3)[:, None, None, None] == 1, np.nan, GOOD_X).astype(np.float32), GOOD_Y,
     r"x_test.npy: pixel values must be in \[0, 1\]; found NaN"),
    (GOOD_X, np.array([0, -1, 3], np.int64), r"y_test.npy: label -1 is negative"),
    (GOOD_X, np.array([0, 10, 3], np.uint8), r"y_test.npy: label 10 is outside the class range 0..9"),
])
def test_load_checks_arrays_before_use(tmp_path, x, y, message):
    save_split(tmp_path, "test", x, y)
    with pytest.raises(DataError, match=rf"^{tmp_path}/{message}$"):
        load_split(tmp_path, "test", num_classes=10)


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.mark.parametrize("content, message", [
    (npy_bytes(GOOD_X)[:-7], r"not a valid NumPy array file \(9529 bytes but its header float32 \(3, 28, 28, 1\) "
                             r"needs 9536; truncated\)"),
    (npy_bytes(GOOD_X) + b"x", r"not a valid NumPy array file \(.* needs 9536; trailing data\)"),
    (npy_bytes(GOOD_X)[:5], r"not a valid NumPy array file \(EOF: reading magic string"),
    (b"PK\x03\x04 a zip file, not .npy", r"not a valid NumPy array file \(the magic string is not correct"),
], ids=["truncated", "trailing", "short", "zip"])
def test_malformed_array_file_is_refused_before_reading_its_data(tmp_path, content, message):
    save_split(tmp_path, "val", GOOD_X, GOOD_Y)
    (tmp_path / "x_val.npy").write_bytes(content)
    with pytest.raises(DataError, match=rf"^{tmp_path}/x_val.npy: {message}"):
        load_split(tmp_path, "val")


def test_huge_header_is_refused_without_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10 ** 9, 28, 28, 1)})
    (tmp_path / "x_val.npy").write_bytes(header.getvalue() + b"\0" * 64)
    save_array(tmp_path / "y_val.npy", GOOD_Y)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"x_val.npy: not a valid NumPy array file \(.*; truncated\)"):
            load_split(tmp_path, "val")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "is a directory; expected a regular file"),
    (lambda p: os.mkfifo(p), r"is a FIFO \(named pipe\); expected a regular file"),
    (lambda p: p.symlink_to("/dev/zero"), "is a character device; expected a regular file"),
    (lambda p: p.write_bytes(b""), "is empty"),
])
def test_a_file_that_is_not_a_regular_file_is_refused_without_reading(tmp_path, make, message):
    save_split(tmp_path, "val", GOOD_X, GOOD_Y)
    (tmp_path / "y_val.npy").unlink()
    make(tmp_path / "y_val.npy")
    with pytest.raises(InputError, match=rf"^{tmp_path}/y_val.npy: {message}$"):
        load_split(tmp_path, "val")

"""IDX parsing: valid files round-trip, malformed ones fail with a message naming the file."""
import gzip

import numpy as np
import pytest

from mnist_pipeline.idx import IdxError, encode_idx, read_images, read_labels


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)


def test_round_trip_gzipped_and_plain(tmp_path, images):
    (tmp_path / "a.gz").write_bytes(gzip.compress(encode_idx(images)))
    (tmp_path / "b").write_bytes(encode_idx(images))
    np.testing.assert_array_equal(read_images(tmp_path / "a.gz"), images)
    np.testing.assert_array_equal(read_images(tmp_path / "b"), images)
    labels = np.array([0, 9, 3], dtype=np.uint8)
    (tmp_path / "l").write_bytes(encode_idx(labels))
    np.testing.assert_array_equal(read_labels(tmp_path / "l", 10), labels)


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b"\x00\x00\x09\x03" + b[4:], r"bad magic number 0x00000903; expected 0x00000803"),
    (lambda b: b[:-10], r"3926 bytes but the header \(5, 28, 28\) needs 3936 \(truncated\)"),
    (lambda b: b + b"xx", r"3938 bytes but the header \(5, 28, 28\) needs 3936 \(trailing data\)"),
    (lambda b: b[:2], r"2 bytes is too short for an IDX header"),
    (lambda b: b[:9], r"truncated header \(9 bytes, expected 16\)"),
])
def test_malformed_image_file_names_file_and_problem(tmp_path, images, mutate, message):
    path = tmp_path / "images.idx"
    path.write_bytes(mutate(encode_idx(images)))
    with pytest.raises(IdxError, match=rf"^{tmp_path}/images.idx: {message}"):
        read_images(path)


def test_label_file_given_as_images_is_rejected(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(encode_idx(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(IdxError, match=r"labels.idx: bad magic number 0x00000801; expected 0x00000803"):
        read_images(path)


def test_wrong_image_size(tmp_path):
    path = tmp_path / "big.idx"
    path.write_bytes(encode_idx(np.zeros((2, 32, 32), dtype=np.uint8)))
    with pytest.raises(IdxError, match=r"big.idx: images are 32x32; expected 28x28"):
        read_images(path)


def test_label_outside_class_range(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(encode_idx(np.array([1, 12, 3], dtype=np.uint8)))
    with pytest.raises(IdxError, match=r"labels.idx: label 12 is outside the class range 0..9"):
        read_labels(path, 10)


def test_truncated_gzip(tmp_path, images):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(encode_idx(images))[:-30])
    with pytest.raises(IdxError, match=r"images.gz: corrupt or truncated gzip data"):
        read_images(path)

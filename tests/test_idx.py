"""IDX parsing: valid files round-trip, malformed ones fail with a message naming the file."""
import gzip
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import NOT_REGULAR_FILES, gzip_bomb
from mnist_pipeline import idx
from mnist_pipeline.files import InputError
from mnist_pipeline.idx import IdxError, encode_idx, parse_idx, read_images, read_labels
from mnist_pipeline.stage import PipelineError


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


@pytest.mark.parametrize("prefix, message", [
    (b"", r"bad magic number 0x00000000; expected 0x00000803 \(unsigned bytes, 3 dimensions\)"),
    (encode_idx(np.zeros((2, 28, 28))), r"content is over 100 MiB once decompressed \(MNIST files are under 50 MB\)"),
    (struct.pack(">HBB3I", 0, 8, 3, 200_000, 28, 28), r"the header \(200000, 28, 28\) needs 156800016 bytes, over the "
                                                    r"100 MiB limit \(MNIST files are under 50 MB\)"),
], ids=["zeros", "valid-then-zeros", "huge-header-then-zeros"])
def test_gzip_bomb_is_refused_without_expanding_it(tmp_path, prefix, message):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip_bomb(prefix))
    tracemalloc.start()
    try:
        with pytest.raises(IdxError, match=rf"^{path}: {message}$"):
            read_images(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20  # one chunk at a time: the content past what the header promises is never kept


def test_content_over_the_cap_is_refused_chunk_by_chunk(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(encode_idx(np.zeros(3 * idx.CHUNK, np.uint8)))
    chunks = idx.iter_content(path, limit=2 * idx.CHUNK)
    assert len(next(chunks)) == len(next(chunks)) == idx.CHUNK
    with pytest.raises(IdxError, match=rf"^{path}: content is over 0.125 MiB \(MNIST files are under 50 MB\)$"):
        next(chunks)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, r"not found; run the download stage first \(dvc repro\)"), *NOT_REGULAR_FILES])
def test_input_that_is_not_a_regular_file_is_refused_without_reading(tmp_path, make, message):
    path = tmp_path / "images.gz"
    make(path)
    with pytest.raises(InputError, match=rf"^{path}: {message}$"):
        read_images(path)

# --- fuzzing: any bytes give either a valid array or the project's own one-line error -------------

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID = {3: encode_idx(np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256), 1: encode_idx(np.arange(7) % 10)}


@st.composite
def mutated(draw, ndim):
    """Valid IDX bytes with some bytes overwritten, a cut, and some bytes appended."""
    data = bytearray(VALID[ndim])
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut if draw(st.booleans()) else len(data)]) + draw(st.binary(max_size=8))


def read(path, ndim):
    return read_images(path) if ndim == 3 else read_labels(path, 10)


def check_read(path, ndim, content):
    """Reads `path`; a result must be a valid array, anything else a PipelineError naming the file."""
    try:
        array = read(path, ndim)
    except PipelineError as err:
        assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
        return
    assert array.dtype == np.uint8 and array.ndim == ndim
    assert ndim == 1 or array.shape[1:] == (28, 28)
    assert ndim == 3 or array.max(initial=0) < 10
    assert content.endswith(array.tobytes())


@FUZZ
@given(data=st.binary(max_size=64), ndim=st.sampled_from([1, 3]))
def test_fuzz_parse_random_bytes(data, ndim):
    try:
        array = parse_idx(data, "f", ndim)
    except IdxError as err:
        assert str(err).startswith("f: ") and "\n" not in str(err)
    else:
        assert array.ndim == ndim and data.endswith(array.tobytes())


@FUZZ
@given(ndim=st.sampled_from([1, 3]), data=st.data(), gzipped=st.booleans())
def test_fuzz_read_mutated_idx_files(tmp_path, ndim, data, gzipped):
    content = data.draw(mutated(ndim))
    path = tmp_path / "file.gz"
    path.write_bytes(gzip.compress(content, mtime=0) if gzipped else content)
    check_read(path, ndim, content)


@FUZZ
@given(ndim=st.sampled_from([1, 3]), data=st.data())
def test_fuzz_read_mutated_gzip_wrapper(tmp_path, ndim, data):
    wrapper = bytearray(gzip.compress(VALID[ndim], mtime=0))
    for _ in range(data.draw(st.integers(1, 4))):
        wrapper[data.draw(st.integers(0, len(wrapper) - 1))] = data.draw(st.integers(0, 255))
    wrapper = wrapper[:data.draw(st.integers(0, len(wrapper)))]
    path = tmp_path / "file.gz"
    path.write_bytes(bytes(wrapper))
    check_read(path, ndim, VALID[ndim])

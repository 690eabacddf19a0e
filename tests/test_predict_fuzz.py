"""Property tests of the picture reader: random bytes and mutations of small valid PNG, JPEG, GIF, BMP, TIFF
and WebP files either give a 28x28 input in [0, 1] or the reader's own ImageError, never another exception.

Each example is written to one file in a pytest tmp folder and read with decode.load_image and
prepare.prepare_image, as predict.py reads it.
"""
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mnist_pipeline.predict.decode import ImageError, load_image
from mnist_pipeline.predict.prepare import prepare_image

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def digit_picture(mode):
    """A 40x32 picture of a dark '7' on a light background in `mode`."""
    img = Image.new("L", (40, 32), 230)
    ImageDraw.Draw(img).line([(8, 5), (30, 5), (16, 27)], fill=20, width=4)
    if mode == "RGBA":
        rgba = img.convert("RGBA")
        rgba.putalpha(Image.eval(img, lambda v: 255 - v))
        return rgba
    if mode == "I;16":
        return Image.fromarray(np.asarray(img, dtype=np.uint16) * 257)
    return img.convert(mode)


def encoded(mode, fmt):
    out = io.BytesIO()
    digit_picture(mode).save(out, format=fmt)
    return out.getvalue()


SAMPLES = [encoded(mode, fmt) for mode, fmt in [
    ("L", "PNG"), ("RGBA", "PNG"), ("P", "PNG"), ("RGB", "JPEG"), ("L", "JPEG"), ("P", "GIF"), ("RGB", "BMP"),
    ("L", "BMP"), ("I;16", "TIFF"), ("RGB", "TIFF"), ("RGB", "WEBP"), ("RGBA", "WEBP")]]


@st.composite
def mutated(draw):
    """One of SAMPLES with a few bytes after its signature (the first 8) overwritten, inserted or deleted, or
    cut short (random bytes after a real signature are tested on their own)."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(min(8, len(data)), max(len(data) - 1, 8)))
        kind = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if kind == "overwrite":
            data[at:at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at:at + len(chunk)]
        else:
            del data[max(at, 1):]
    return bytes(data)


@pytest.fixture(scope="module")
def picture_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "picture"


def check_read(path, data):
    """The reader gives a valid 28x28 input or an ImageError naming `path`; anything else fails the test."""
    path.write_bytes(data)
    try:
        digit = prepare_image(load_image(path))
    except ImageError as err:
        assert "\n" not in str(err) and err.problem
        return
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert np.isfinite(digit).all() and digit.min() >= 0 and digit.max() <= 1


def test_the_samples_are_read():
    """The unmutated samples are valid pictures of a digit (so mutations start from real decoder paths)."""
    for data in SAMPLES:
        digit = prepare_image(Image.open(io.BytesIO(data)))
        assert digit.shape == (28, 28) and digit.max() > 0.5


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(picture_file, data):
    check_read(picture_file, data)


@FUZZ
@given(prefix=st.sampled_from([sample[:16] for sample in SAMPLES]), rest=st.binary(max_size=512))
def test_random_bytes_after_a_real_header(picture_file, prefix, rest):
    check_read(picture_file, prefix + rest)


@FUZZ
@given(data=mutated())
def test_mutated_pictures(picture_file, data):
    check_read(picture_file, data)

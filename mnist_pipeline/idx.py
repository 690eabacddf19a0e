"""Reads and writes IDX files (the MNIST format), gzipped or not, validating their headers.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the data. MNIST uses type 0x08 (unsigned byte): images have
3 dimensions (count, rows, columns), labels 1 (count).
"""
import gzip
import struct
import zlib

import numpy as np

from mnist_pipeline.stage import PipelineError

UBYTE = 0x08


class IdxError(PipelineError, ValueError):
    """An IDX file is malformed, truncated or not what the pipeline expects."""


def decompress(path):
    """Returns the content of `path`, gunzipped when it is gzip; IdxError if the gzip is broken."""
    raw = open(path, "rb").read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise IdxError(f"{path}: corrupt or truncated gzip data ({err})") from None


def parse_idx(data, path, ndim):
    """Parses IDX bytes into a uint8 array with `ndim` dimensions; `path` names the file in errors."""
    if len(data) < 4:
        raise IdxError(f"{path}: {len(data)} bytes is too short for an IDX header")
    zero, dtype, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != UBYTE or dims != ndim:
        raise IdxError(f"{path}: bad magic number 0x{data[:4].hex()}; expected 0x0000{UBYTE:02x}{ndim:02x} "
                       f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path}: truncated header ({len(data)} bytes, expected {header})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise IdxError(f"{path}: {len(data)} bytes but the header {shape} needs {expected}"
                       f" ({'truncated' if len(data) < expected else 'trailing data'})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_images(path, size=(28, 28)):
    """Reads an IDX image file into an (N, rows, cols) uint8 array, checking the image size."""
    images = parse_idx(decompress(path), path, 3)
    if images.shape[1:] != tuple(size):
        raise IdxError(f"{path}: images are {images.shape[1]}x{images.shape[2]}; expected {size[0]}x{size[1]}")
    return images


def read_labels(path, num_classes):
    """Reads an IDX label file into an (N,) uint8 array, checking every label is below num_classes."""
    labels = parse_idx(decompress(path), path, 1)
    if labels.size and labels.max() >= num_classes:
        raise IdxError(f"{path}: label {int(labels.max())} is outside the class range 0..{num_classes - 1}")
    return labels


def encode_idx(array):
    """Returns the IDX bytes of a uint8 array (used to make small datasets for tests)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(">HBB", 0, UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()

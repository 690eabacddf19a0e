"""Reads and writes IDX files (the MNIST format), gzipped or not, validating their headers.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the data. MNIST uses type 0x08 (unsigned byte): images have
3 dimensions (count, rows, columns), labels 1 (count). Content is read in chunks and refused past
MAX_CONTENT_BYTES, so a gzip bomb is never expanded in memory.
"""
import gzip
import math
import struct
import zlib

import numpy as np

from mnist_pipeline.files import InputError, open_input
from mnist_pipeline.stage import PipelineError

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 16
MAX_CONTENT_BYTES = 100 << 20  # per file, decompressed; MNIST's largest file is 47 MB
MISSING_HINT = "run the download stage first (dvc repro)"


class IdxError(PipelineError, ValueError):
    """An IDX file is malformed, truncated or not what the pipeline expects."""


def iter_content(path, limit=MAX_CONTENT_BYTES, name=None):
    """Yields the content of `path` in chunks, gunzipped when it is gzip.

    IdxError if the gzip stream is broken or the content passes `limit` bytes (checked chunk by chunk,
    so at most one chunk past the limit is ever decompressed); InputError if the file cannot be read.
    `name` is how errors name the file (default: its path).
    """
    name = name or path
    with open_input(path, MISSING_HINT) as file:
        gzipped = file.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        file.seek(0)
        stream = gzip.GzipFile(fileobj=file, mode="rb") if gzipped else file
        total = 0
        while True:
            try:
                chunk = stream.read(CHUNK)
            except (EOFError, OSError, zlib.error) as err:
                if not gzipped:
                    raise InputError(f"{name}: cannot read ({err})") from None
                raise IdxError(f"{name}: corrupt or truncated gzip data ({err})") from None
            if not chunk:
                return
            total += len(chunk)
            if total > limit:
                where = " once decompressed" if gzipped else ""
                raise IdxError(f"{name}: content is over {limit / 2**20:g} MiB{where} (MNIST files are under 50 MB)")
            yield chunk


def parse_header(data, path, ndim):
    """The shape in the IDX header that `data` starts with; IdxError unless it is `ndim`-dimensional unsigned bytes."""
    if len(data) < 4:
        raise IdxError(f"{path}: {len(data)} bytes is too short for an IDX header")
    zero, dtype, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != UBYTE or dims != ndim:
        raise IdxError(f"{path}: bad magic number 0x{data[:4].hex()}; expected 0x0000{UBYTE:02x}{ndim:02x} "
                       f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path}: truncated header ({len(data)} bytes, expected {header})")
    return struct.unpack(f">{ndim}I", data[4:header])


def parse_idx(data, path, ndim):
    """Parses IDX bytes into a uint8 array with `ndim` dimensions; `path` names the file in errors."""
    shape = parse_header(data, path, ndim)
    header = 4 + 4 * ndim
    expected = header + math.prod(shape)
    if len(data) != expected:
        raise IdxError(f"{path}: {len(data)} bytes but the header {shape} needs {expected}"
                       f" ({'truncated' if len(data) < expected else 'trailing data'})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path, ndim):
    """Reads an IDX file into a uint8 array, holding no more of its content than its header promises."""
    chunks = iter_content(path)
    content = bytearray()
    for chunk in chunks:  # up to the header, checked before reading on
        content += chunk
        if len(content) >= 4 + 4 * ndim:
            break
    shape = parse_header(content, path, ndim)
    expected = 4 + 4 * ndim + math.prod(shape)
    if expected > MAX_CONTENT_BYTES:
        raise IdxError(f"{path}: the header {shape} needs {expected} bytes, over the {MAX_CONTENT_BYTES / 2**20:g} MiB "
                       "limit (MNIST files are under 50 MB)")
    for chunk in chunks:
        if len(content) + len(chunk) > expected:  # count the rest for the message, without keeping it
            size = len(content) + len(chunk) + sum(map(len, chunks))
            raise IdxError(f"{path}: {size} bytes but the header {shape} needs {expected} (trailing data)")
        content += chunk
    return parse_idx(content, path, ndim)


def read_images(path, size=(28, 28)):
    """Reads an IDX image file into an (N, rows, cols) uint8 array, checking the image size."""
    images = read_idx(path, 3)
    if images.shape[1:] != tuple(size):
        raise IdxError(f"{path}: images are {images.shape[1]}x{images.shape[2]}; expected {size[0]}x{size[1]}")
    return images


def read_labels(path, num_classes):
    """Reads an IDX label file into an (N,) uint8 array, checking every label is below num_classes."""
    labels = read_idx(path, 1)
    if labels.size and labels.max() >= num_classes:
        raise IdxError(f"{path}: label {int(labels.max())} is outside the class range 0..{num_classes - 1}")
    return labels


def encode_idx(array):
    """Returns the IDX bytes of a uint8 array (used to make small datasets for tests)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(">HBB", 0, UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()

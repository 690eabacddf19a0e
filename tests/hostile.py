"""Hostile inputs for the tests: gzip bombs, and paths that are anything but a non-empty regular file."""
import functools
import gzip
import os

from mnist_pipeline.idx import MAX_CONTENT_BYTES

MEBIBYTE = bytes(1 << 20)


@functools.cache
def gzip_bomb(prefix=b"", mebibytes=(MAX_CONTENT_BYTES >> 20) + 1):
    """Gzip of `prefix` then `mebibytes` MiB of zeros, in about 1 KiB per MiB (one gzip member per MiB,
    so it is built in milliseconds; readers see one stream)."""
    return gzip.compress(prefix, mtime=0) + gzip.compress(MEBIBYTE, compresslevel=9, mtime=0) * mebibytes


# (make(path), the end of the one-line message) for each kind of path a reader must refuse without reading;
# a missing file's message names what makes it, so it stays with each test.
NOT_REGULAR_FILES = [
    (lambda p: p.mkdir(), "is a directory; expected a regular file"),
    (lambda p: os.mkfifo(p), r"is a FIFO \(named pipe\); expected a regular file"),
    (lambda p: p.symlink_to("/dev/zero"), "is a character device; expected a regular file"),
    (lambda p: p.write_bytes(b""), "is empty"),
]

"""Hostile inputs for the tests: gzip bombs."""
import functools
import gzip

from mnist_pipeline.idx import MAX_CONTENT_BYTES

MEBIBYTE = bytes(1 << 20)


@functools.cache
def gzip_bomb(prefix=b"", mebibytes=(MAX_CONTENT_BYTES >> 20) + 1):
    """Gzip of `prefix` then `mebibytes` MiB of zeros, in about 1 KiB per MiB (one gzip member per MiB,
    so it is built in milliseconds; readers see one stream)."""
    return gzip.compress(prefix, mtime=0) + gzip.compress(MEBIBYTE, compresslevel=9, mtime=0) * mebibytes

"""Atomic writes: every output appears complete under its final name or not at all.

A file is written to a hidden temporary sibling and renamed into place, so an interrupted or failed
stage never leaves a half-written file that a later stage (or DVC) would trust. Temporary files
left by a killed process are removed by the next write of the same file.
"""
import contextlib
import errno
import glob
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from mnist_pipeline.stage import PipelineError


class OutputError(PipelineError, OSError):
    """An output file or directory cannot be written (unwritable directory, full disk)."""


# Errors that mean the output location itself is at fault, whatever the code writing to it was doing.
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _output_error(path, err):
    return OutputError(f"{path}: cannot write output ({err.strerror or err})")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path next to `path`; renames it onto `path` only if the block succeeds."""
    path = Path(path)
    prefix, suffix = f".{path.name}.", ".tmp" + path.suffix
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{glob.escape(prefix)}*{suffix}"):  # left by a killed process
            stale.unlink()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
    except OSError as err:
        raise _output_error(path, err) from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as err:
        if err.errno in OUTPUT_ERRNOS:
            raise _output_error(path, err) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, data):
    """Writes `data` as indented JSON atomically."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def save_array(path, array):
    """Saves one NumPy array as .npy atomically (loaded back with allow_pickle=False)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)

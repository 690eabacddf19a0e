"""Safe reads and atomic writes of the files the stages exchange.

Inputs are opened only once they are known to be non-empty regular files, so a missing file, a
directory, a FIFO or a device gives one line naming it instead of a traceback or a read that never
ends; `read_text`, `read_json` and `read_table` add UTF-8, JSON and CSV/TSV checks on top. Outputs are written to a hidden temporary sibling and renamed into place, so an interrupted or
failed stage never leaves a half-written file that a later stage (or DVC) would trust. An output directory
is built whole beside the old one and exchanged with it in one step (`atomic_directory`), so a kill at any
moment leaves the old or the new directory complete, and no file of the old one survives into the new.
Temporary files and directories left by a killed process are removed by the next write of the same path.
dvc.yaml marks the outputs `persist`, so DVC leaves them in place until the stage replaces them.
"""
import contextlib
import ctypes
import errno
import glob
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np

from mnist_pipeline.stage import PipelineError


class InputError(PipelineError, OSError):
    """An input file is missing, not a regular file, unreadable or empty."""


class OutputError(PipelineError, OSError):
    """An output file or directory cannot be written (unwritable directory, full disk)."""


# Errors that mean the output location itself is at fault, whatever the code writing to it was doing.
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _output_error(path, err):
    return OutputError(f"{path}: cannot write output ({err.strerror or err})")


FILE_TYPES = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
              stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


@contextlib.contextmanager
def open_input(path, missing_hint=None):
    """Opens `path` for binary reading once it is known to be a non-empty regular file; InputError otherwise.

    The file is opened without blocking and its type checked on the open descriptor, so a FIFO or a
    device is refused without reading from it. `missing_hint` says how to make a missing file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError(f"{path}: not found" + (f"; {missing_hint}" if missing_hint else "")) from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = FILE_TYPES.get(stat.S_IFMT(info.st_mode), "an unknown kind of file")
            raise InputError(f"{path}: is {kind}; expected a regular file")
        if info.st_size == 0:
            raise InputError(f"{path}: is empty")
        os.set_blocking(fd, True)
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        yield file


RERUN = "rerun the stage that writes it"  # what to do about an earlier stage's output that parses but is wrong


def read_text(path, missing_hint=None):
    """The UTF-8 text of the input file `path`, checked as open_input does; InputError if it is not UTF-8."""
    with open_input(path, missing_hint) as file:
        data = file.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not valid UTF-8 (byte {err.start})") from None


def read_json(path, keys=(), missing_hint=None):
    """The JSON object in the input file `path`, which must hold every key in `keys`; InputError otherwise."""
    try:
        data = json.loads(read_text(path, missing_hint))
    except ValueError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, not {type(data).__name__}; {RERUN}")
    missing = [key for key in keys if key not in data]
    if missing:
        raise InputError(f"{path}: {', '.join(missing)} missing; {RERUN}")
    return data


def read_table(path, columns=(), sep=",", missing_hint=None, numbers=()):
    """The table in the CSV (or, with sep="\t", TSV) input file `path`; InputError unless it parses and has
    `columns` and a row, and the columns `numbers` hold numbers only."""
    import io

    import pandas as pd  # here, not at the top: the stages that read no table start faster without it
    kind = "TSV" if sep == "\t" else "CSV"
    try:
        table = pd.read_csv(io.StringIO(read_text(path, missing_hint)), sep=sep)
    except ValueError as err:  # pandas' parser errors are ValueErrors
        raise InputError(f"{path}: cannot read it as {kind} ({str(err).splitlines()[0]})") from None
    missing = [column for column in columns if column not in table.columns]
    if missing or table.empty:
        raise InputError(f"{path}: {'columns ' + ', '.join(missing) if missing else 'rows'} missing; {RERUN}")
    for column in numbers:
        if not pd.api.types.is_numeric_dtype(table[column]) or table[column].isna().any():
            raise InputError(f"{path}: column {column} holds values that are not numbers; {RERUN}")
    return table


def writable_directory(directory):
    """Creates `directory` if needed and checks a file can be created in it; OutputError at once if not."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: is not a directory; cannot write outputs into it")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise _output_error(directory, err) from None
    return directory


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


def _exchange(first, second):
    """Swaps two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system or kernel without it
        return False
    raise OSError(err, os.strerror(err), str(second))


def replace_directory(new, path):
    """Puts directory `new` at `path` in one step, deleting what was there (os.replace, for directories)."""
    new, path = Path(new), Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is not a directory; cannot write outputs into it")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.replace(new, path)
    elif _exchange(new, path):
        shutil.rmtree(new)  # now the old directory
    else:  # two renames: the old directory is missing for an instant and restored if the second fails
        old = path.parent / f".{path.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        try:
            os.replace(new, path)
        except OSError:
            os.replace(old, path)
            raise
        shutil.rmtree(old)


@contextlib.contextmanager
def atomic_directory(path):
    """Yields an empty temporary directory beside `path`; puts it at `path` (replace_directory) only if the block
    succeeds, so `path` holds exactly what the block wrote, or stays as it was."""
    path = Path(path)
    new = path.parent / f".{path.name}.new"
    if path.exists() and not path.is_dir():  # found before any work is done
        raise OutputError(f"{path}: is not a directory; cannot write outputs into it")
    try:
        shutil.rmtree(new, ignore_errors=True)  # left by a killed process
        new.mkdir(parents=True)
    except OSError as err:
        raise _output_error(path, err) from None
    try:
        yield new
        replace_directory(new, path)
    except OSError as err:
        if err.errno in OUTPUT_ERRNOS:
            raise _output_error(path, err) from None
        raise
    finally:
        shutil.rmtree(new, ignore_errors=True)

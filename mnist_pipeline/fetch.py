"""Fetches dataset files from a list of mirrors, verifying each against its known checksum.

Sources are tried in turn: a local mirror directory first when one is given (offline machines),
then each URL, with retries and exponential backoff for network errors. The SHA-256 of the
decompressed content is checked (gzip wrappers differ between mirrors, their content does not).
Downloading, decompressing and hashing all stream in chunks and stop past MAX_CONTENT_BYTES, so a
mirror serving an endless stream or a gzip bomb costs neither memory nor disk. The output directory
is checked before any source is tried. A file only appears under its final name once it is complete
and verified.
"""
import hashlib
import http.client
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from mnist_pipeline.files import InputError, OutputError, atomic_path, open_input, writable_directory
from mnist_pipeline.idx import CHUNK, MAX_CONTENT_BYTES, IdxError, iter_content
from mnist_pipeline.stage import PipelineError


class FetchError(PipelineError, RuntimeError):
    """No source could provide a file with the expected checksum."""


def content_sha256(path, name=None):
    """SHA-256 of the file's decompressed content, streamed (IdxError if its gzip is broken or too big)."""
    digest = hashlib.sha256()
    for chunk in iter_content(path, name=name):
        digest.update(chunk)
    return digest.hexdigest()


def _too_big():
    return IdxError(f"over {MAX_CONTENT_BYTES / 2**20:g} MiB (MNIST files are under 50 MB)")


def _copy_local(source, tmp):
    with open_input(source) as file, open(tmp, "wb") as out:
        if file.seek(0, 2) > MAX_CONTENT_BYTES:
            raise _too_big()
        file.seek(0)
        shutil.copyfileobj(file, out, CHUNK)


def _download(url, tmp, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        if total is not None and total > MAX_CONTENT_BYTES:
            raise _too_big()
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], leave=False,
                  disable=None) as bar:  # a progress bar on a terminal only
            while chunk := response.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
                if out.tell() > MAX_CONTENT_BYTES:
                    raise _too_big()
        if total is not None and out.tell() != total:
            raise ConnectionError(f"connection closed after {out.tell()} of {total} bytes")


def _describe(err):
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"{type(err.reason).__name__}: {err.reason}"
    return f"{type(err).__name__}: {err}"


def fetch_file(name, sha256, dest, mirrors, local_dir=None, retries=3, backoff=1.0, timeout=30):
    """Puts a verified copy of file `name` at `dest`; FetchError listing every attempt if none works.

    OutputError at once, before any source is tried, if `dest` cannot be written.
    """
    writable_directory(Path(dest).parent)
    sources = ([Path(local_dir) / name] if local_dir else []) + [m.rstrip("/") + "/" + name for m in mirrors]
    failures = []
    for source in sources:
        is_local = isinstance(source, Path)
        for attempt in range(1 if is_local else retries):
            try:
                with atomic_path(dest) as tmp:
                    _copy_local(source, tmp) if is_local else _download(source, tmp, timeout)
                    digest = content_sha256(tmp, name)
                    if digest != sha256:
                        raise IdxError(f"checksum mismatch: sha256 {digest[:12]}…, expected {sha256[:12]}…")
                return source
            except OutputError:
                raise
            except (OSError, http.client.HTTPException, IdxError, ValueError) as err:
                failures.append(f"{source}: {_describe(err)}")
                permanent = isinstance(err, (IdxError, InputError)) or (
                    isinstance(err, urllib.error.HTTPError) and err.code < 500)
                if permanent:
                    break
                if attempt + 1 < retries:
                    time.sleep(backoff * 2 ** attempt)
    raise FetchError(f"could not fetch {name} from any source; tried: " + "; ".join(failures))

"""Reads the image files of a multipart/form-data request within the server's limits.

`read_uploads(request, limits)` returns [(file name, bytes)] for every file part of the request (any
field name); a request that breaks a limit or holds no file raises RequestError with an HTTP status
and a one-line problem. The body is counted while it streams in and reading stops at the byte limit,
so no more than `max_request_bytes` of it is ever held.
"""
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request may hold; the server refuses more with a 4xx answer."""
    max_request_bytes: int = 20 * MIB   # whole body: a few phone photos
    max_files: int = 16                 # image files per request
    max_pixels: int = 25_000_000        # per image (a 24-megapixel camera fits); decoding needs ~3 bytes each


class RequestError(ValueError):
    """A request the server refuses: `status` is its HTTP status, `problem` one line saying why."""

    def __init__(self, status, problem):
        self.status, self.problem = status, problem
        super().__init__(problem)


async def read_uploads(request, limits):
    """[(file name, bytes)] of the file parts of a multipart request, refusing what breaks `limits`."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise RequestError(415, f"request: expected multipart/form-data with image files, got "
                                f"{content_type or 'no Content-Type'} (curl -F image=@digit.png)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_request_bytes:
        raise RequestError(413, f"request: body too large ({int(declared):,} bytes; the limit is "
                                f"{limits.max_request_bytes:,})")
    parser = MultiPartParser(request.headers, bounded(request.stream(), limits.max_request_bytes),
                             max_files=limits.max_files, max_fields=limits.max_files)
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise RequestError(400, f"request: {err.message}") from None
    try:
        files = [(upload.filename or name, await upload.read())
                 for name, upload in form.multi_items() if isinstance(upload, UploadFile)]
    finally:
        await form.close()
    if not files:
        raise RequestError(400, "request: no file in the form (send images as file fields: -F image=@digit.png)")
    return files


async def bounded(stream, max_bytes):
    """The chunks of `stream`, raising RequestError (413) as soon as they add up to more than max_bytes."""
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > max_bytes:
            raise RequestError(413, f"request: body too large (over {max_bytes:,} bytes, the limit)")
        yield chunk

"""Downloads: local mirror, real HTTP mirrors on 127.0.0.1 that fail in various ways, checksums, gzip bombs."""
import gzip
import hashlib
import http.server
import os
import threading
import time
import tracemalloc

import pytest

from hostile import gzip_bomb
from mnist_pipeline import fetch as fetch_module
from mnist_pipeline.fetch import FetchError, fetch_file
from mnist_pipeline.idx import CHUNK
from mnist_pipeline.files import OutputError

CONTENT = bytes(range(256)) * 40
GOOD = gzip.compress(CONTENT)
SHA = hashlib.sha256(CONTENT).hexdigest()


class Mirror(http.server.BaseHTTPRequestHandler):
    """Serves `replies` in turn (then the last one again): an int is an HTTP error, bytes a body,
    ("short", body) a body cut off before its Content-Length, "reset" closes the connection at once,
    "hang" answers nothing for longer than the client waits, "endless" sends zeros, with no
    Content-Length, until the client hangs up."""
    replies = []
    requests = 0

    def do_GET(self):
        cls = type(self)
        reply = cls.replies[min(cls.requests, len(cls.replies) - 1)]
        cls.requests += 1
        if reply == "reset":
            self.close_connection = True
            return
        if reply == "hang":
            time.sleep(1.5)
            return
        if reply == "endless":
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(bytes(CHUNK))
            except OSError:
                return
        if isinstance(reply, int):
            self.send_error(reply)
            return
        short = isinstance(reply, tuple)
        body = reply[1] if short else reply
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (100 if short else 0)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror():
    """Starts a real HTTP server on a free port; yields (url, set replies -> handler class)."""
    handler = type("Handler", (Mirror,), {"replies": [GOOD], "requests": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/mnist/", handler
    server.shutdown()


def fetch(dest, mirrors, local_dir=None):
    return fetch_file("f.gz", SHA, dest, mirrors, local_dir, retries=3, backoff=0.01, timeout=1)


def test_local_mirror_is_used_first(tmp_path, mirror):
    url, handler = mirror
    (tmp_path / "f.gz").write_bytes(GOOD)
    dest = tmp_path / "out" / "f.gz"
    assert fetch(dest, [url], local_dir=tmp_path) == tmp_path / "f.gz"
    assert dest.read_bytes() == GOOD and handler.requests == 0


def test_download_over_http(tmp_path, mirror):
    url, _ = mirror
    dest = tmp_path / "f.gz"
    assert fetch(dest, [url], local_dir=tmp_path / "empty") == url + "f.gz"
    assert dest.read_bytes() == GOOD


def test_server_error_is_retried(tmp_path, mirror):
    url, handler = mirror
    handler.replies = [503, 500, GOOD]
    fetch(tmp_path / "f.gz", [url])
    assert handler.requests == 3


def test_not_found_moves_to_next_mirror_without_retry(tmp_path, mirror):
    url, handler = mirror
    handler.replies = [404]
    (tmp_path / "second").mkdir()
    with pytest.raises(FetchError) as err:
        fetch(tmp_path / "f.gz", [url, "http://127.0.0.1:9/closed/"])
    assert handler.requests == 1
    message = str(err.value)
    assert message.startswith("could not fetch f.gz from any source; tried: ")
    assert f"{url}f.gz: HTTP 404 Not Found" in message
    assert message.count("http://127.0.0.1:9/closed/f.gz: ConnectionRefusedError") == 3
    assert not (tmp_path / "f.gz").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "second"]  # no temporary files left behind


# Named ids: the gzip replies hold a timestamp, and pytest-xdist's workers must collect the same test names.
@pytest.mark.parametrize("reply, problem", [
    (gzip.compress(b"other content"), "checksum mismatch"),
    (GOOD[:-20], "corrupt or truncated gzip data"),
    (("short", GOOD[:100]), "connection closed after 100 of 200 bytes"),
    ("reset", "RemoteDisconnected"),
    ("hang", "timed out"),
], ids=["other-content", "truncated", "short", "reset", "hang"])
def test_bad_bytes_never_reach_the_destination(tmp_path, mirror, reply, problem):
    url, handler = mirror
    handler.replies = [reply]
    dest = tmp_path / "f.gz"
    dest.write_bytes(b"previous good file")
    with pytest.raises(FetchError, match=problem):
        fetch(dest, [url])
    assert dest.read_bytes() == b"previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


def test_missing_file_in_local_mirror_falls_back_to_url(tmp_path, mirror):
    url, _ = mirror
    dest = tmp_path / "out" / "f.gz"
    assert fetch(dest, [url], local_dir=tmp_path / "nothing-here") == url + "f.gz"


def peak_traced_bytes(function):
    """Runs function() (expected to raise FetchError); returns the peak of Python memory allocated meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as err:
            function()
        return tracemalloc.get_traced_memory()[1], str(err.value)
    finally:
        tracemalloc.stop()


def test_gzip_bomb_is_rejected_while_streaming(tmp_path, mirror):
    url, handler = mirror
    handler.replies = [gzip_bomb()]
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "f.gz").write_bytes(gzip_bomb())
    dest = tmp_path / "out" / "f.gz"
    peak, message = peak_traced_bytes(lambda: fetch(dest, [url], local_dir=tmp_path / "local"))
    too_big = "IdxError: f.gz: content is over 100 MiB once decompressed (MNIST files are under 50 MB)"
    assert message == (f"could not fetch f.gz from any source; tried: {tmp_path}/local/f.gz: {too_big}; "
                       f"{url}f.gz: {too_big}")
    assert handler.requests == 1  # a bomb is not retried
    assert peak < 2 << 20  # 101 MiB expanded, in chunks, never whole
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("reply", ["endless", ("short", bytes(2 << 20))], ids=["no-length", "too-long"])
def test_download_over_the_cap_is_cut_off(tmp_path, mirror, monkeypatch, reply):
    url, handler = mirror
    monkeypatch.setattr(fetch_module, "MAX_CONTENT_BYTES", 1 << 20)
    handler.replies = [reply]
    with pytest.raises(FetchError, match=rf"{url}f.gz: IdxError: over 1 MiB \(MNIST files are under 50 MB\)$"):
        fetch(tmp_path / "f.gz", [url])
    assert handler.requests == 1
    assert list(tmp_path.iterdir()) == []


def test_unwritable_destination_fails_before_any_source_is_tried(tmp_path, mirror):
    url, handler = mirror
    (tmp_path / "data").write_text("a file where the output's parent directory belongs")
    with pytest.raises(OutputError, match=rf"^{tmp_path}/data/raw: cannot write output \(Not a directory\)$"):
        fetch(tmp_path / "data" / "raw" / "f.gz", [url])
    assert handler.requests == 0


def test_fifo_in_local_mirror_is_skipped_without_reading(tmp_path, mirror):
    url, _ = mirror
    os.mkfifo(tmp_path / "f.gz")
    assert fetch(tmp_path / "out" / "f.gz", [url], local_dir=tmp_path) == url + "f.gz"

"""Drives serve.py from outside, with the standard library only: shared by the tests and bench/bench_serve.py.

`start_server(model, options, log)` runs `python serve.py --model MODEL --port 0 OPTIONS`, waits for
its `serving ... at URL` line and returns (process, URL); the server's stderr goes to the open file
`log`. `stop_server(process)` interrupts it (as Ctrl+C does) and waits for it to end.
`post_images(url, files)` sends [(file name, bytes)] as one multipart request and returns
(HTTP status, decoded JSON body).
"""
import http.client
import json
import re
import urllib.parse
import uuid
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = re.compile(r"serving .* at (http://\S+/) ")


class ServerError(RuntimeError):
    """The server did not start; the message holds what it said."""


def start_server(model, options=(), log=subprocess.DEVNULL, timeout_s=120):
    """(process, base URL ending in /) of a started serve.py; ServerError if it exits or stays silent."""
    command = [sys.executable, str(ROOT / "serve.py"), "--model", str(model), "--port", "0", *map(str, options)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                               text=True)
    timer = threading.Timer(timeout_s, process.kill)  # a server that never prints its address
    timer.start()
    try:
        line = process.stdout.readline()
    finally:
        timer.cancel()
    found = ADDRESS.search(line)
    if not found:
        process.kill()
        process.wait()
        raise ServerError(f"{' '.join(command)} did not start (exit status {process.returncode}): {line.strip()}")
    return process, found.group(1)


def stop_server(process):
    """Stops a server started by start_server (SIGINT, then SIGKILL after 10 s)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.stdout.close()


def multipart(files, field="image"):
    """(body bytes, Content-Type) of a multipart/form-data form holding [(file name, bytes)] as file fields."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_images(url, files, timeout_s=60):
    """(status, JSON body) of POSTing [(file name, bytes)] to url (e.g. BASE + "api/predict") in one request."""
    body, content_type = multipart(files)
    return request(url, "POST", body, {"Content-Type": content_type}, timeout_s)


def request(url, method="GET", body=None, headers=None, timeout_s=60):
    """(status, JSON body) of one HTTP request on a fresh connection."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout_s)
    try:
        target = address.path + (f"?{address.query}" if address.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()

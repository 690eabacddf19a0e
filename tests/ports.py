"""Free TCP ports on 127.0.0.1 for the multi-worker tests.

Each pytest-xdist worker (PYTEST_XDIST_WORKER = gw0, gw1, ...; a run without xdist counts as gw0) takes its ports
from a band of its own, below the system's ephemeral range (Linux: 32768 and up), where neither the other worker's
ports nor the source ports of anyone's connections land. Binding to port 0 instead gives a port from the ephemeral
range that is free at that moment only: until the test's processes bind it (seconds, while TensorFlow loads), the
other worker, running tests at the same time, could be handed the same port or connect from it.
"""
import itertools
import os
import random
import socket

LOWEST = 20_000  # the bands: gw0 20000-20499, gw1 20500-20999, ..., gw24 32000-32499
BAND = 500
BANDS = 25


def _band_ports():
    """This worker's ports, each once, from a random start (so that another test session on this machine is unlikely
    to start at the same one), wrapping around its band."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) % BANDS if worker[2:].isdigit() else 0
    start = random.randrange(BAND)
    for offset in itertools.cycle(range(BAND)):
        yield LOWEST + index * BAND + (start + offset) % BAND


_PORTS = _band_ports()


def _is_free(port):
    """Whether nothing on this machine listens on, is connected from or lingers on (TIME_WAIT) the port now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count):
    """`count` ports of this worker's band that are free now and that no earlier call in this process gave out."""
    ports = []
    for _ in range(BAND):
        port = next(_PORTS)
        if _is_free(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"fewer than {count} free ports in this worker's band ({LOWEST}+)")

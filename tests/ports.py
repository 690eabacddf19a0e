"""Free TCP ports on 127.0.0.1 for the multi-worker tests."""
import socket


def free_ports(count):
    """Ports the system says are free now (bound to port 0, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports

"""The serve command line: the drawing page and HTTP API on the pipeline's model, on this machine.

    python serve.py [--model models/model.tflite] [--host 127.0.0.1] [--port 8000] [--shift-px N]
                    [--max-request-bytes B] [--max-files N] [--max-pixels P]

Loads the model and the calibration.json and not-a-digit detector beside it once (as predict.py does: a
missing or unusable file is a one-line error, exit status 2), warms it up, binds the address and prints
`serving ... at http://HOST:PORT/` on stdout once it accepts connections (--port 0 picks a free port).
Ctrl+C stops it.
"""
import argparse
import socket
import sys
from pathlib import Path

from mnist_pipeline.predict.cli import (DEFAULT_MODEL, ROOT, default_shift_px, load_calibration, load_model,
                                        load_not_a_digit_detector)
from mnist_pipeline.serve.uploads import Limits

BACKLOG = 2048  # uvicorn's default
# Requests handled at once (more get 503): bounds memory to about this many request bodies.
CONCURRENT_REQUESTS = 16


def parse_args(argv):
    """The command line as an argparse namespace."""
    defaults = Limits()
    parser = argparse.ArgumentParser(prog="serve.py", description="Draw a digit in the browser; an HTTP API "
                                     "on the trained model.")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the export stage's LiteRT model (no "
                        "TensorFlow: starts in about a second) or a .keras file (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; "
                        "0.0.0.0 lets other machines in, e.g. a phone on the same network)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0 picks a free one)")
    parser.add_argument("--shift-px", type=int, choices=range(5), metavar="N",
                        help="test-time shifts as in predict.py (default: evaluate.test_time_shift_px in params.yaml)")
    parser.add_argument("--max-request-bytes", type=positive, default=defaults.max_request_bytes,
                        help="largest request body (default: %(default)s)")
    parser.add_argument("--max-files", type=positive, default=defaults.max_files,
                        help="most image files per request (default: %(default)s)")
    parser.add_argument("--max-pixels", type=positive, default=defaults.max_pixels,
                        help="most pixels per image (default: %(default)s)")
    return parser.parse_args(argv)


def positive(text):
    """An integer >= 1 (argparse type)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def bind(host, port):
    """A socket listening on host:port; a one-line error and exit status 2 when it cannot be had."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)  # connections wait in the queue from now on, before the server loop runs
    except OSError as err:
        print(f"error: --host {host} --port {port}: cannot listen there ({err.strerror or err})", file=sys.stderr)
        sys.exit(2)
    return sock


def main(argv=None):
    """Runs the server until interrupted; returns the exit status."""
    args = parse_args(argv)
    shift_px = default_shift_px() if args.shift_px is None else args.shift_px
    calibration = load_calibration(args.model)
    detector = load_not_a_digit_detector(args.model)
    model = load_model(args.model)
    import uvicorn  # after the model: a bad model file fails fast

    from mnist_pipeline.serve.app import create_app
    from mnist_pipeline.serve.model_card import describe_model

    card = describe_model(args.model, ROOT)
    limits = Limits(args.max_request_bytes, args.max_files, args.max_pixels)
    app = create_app(model, shift_px, limits, card, calibration, detector)
    app.state.batcher.warm_up()
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    accuracy = f", {card['test_accuracy']:.2%} test accuracy" if card["test_accuracy"] is not None else ""
    print(f"serving {args.model} (sha256 {card['sha256']}{accuracy}) at http://{shown}:{port}/ "
          "(Ctrl+C stops)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           limit_concurrency=CONCURRENT_REQUESTS))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl+C, then raises it again
        pass
    return 0

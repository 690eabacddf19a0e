"""Discarding what native libraries write straight to file descriptor 2, without importing them.

`stderr_discarded()` points descriptor 2 at /dev/null for a block and restores it afterwards, so
start-up lines of C++ code (LiteRT's "Created TensorFlow Lite XNNPACK delegate", TensorFlow's
device logs) do not bury the one-line errors; mnist_pipeline.tf_runtime uses it while TensorFlow loads.
"""
import contextlib
import os
import sys


@contextlib.contextmanager
def stderr_discarded():
    """Points file descriptor 2 at /dev/null for the duration, then restores it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

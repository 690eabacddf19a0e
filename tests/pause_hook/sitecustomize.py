"""Test hook, loaded by every Python process started with this folder first on PYTHONPATH: when the process first
opens a path containing $PAUSE_AT_PATH, it creates the file $PAUSE_MARKER and sleeps, so a test can interrupt a
stage at a known moment of writing its outputs (tests/test_interrupted_repro.py). Does nothing without them."""
import os
import sys
import time

PAUSE_AT = os.environ.get("PAUSE_AT_PATH")
MARKER = os.environ.get("PAUSE_MARKER")


def _pause_on_open(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) and PAUSE_AT in os.fsdecode(args[0]):
        open(MARKER, "w").close()  # an audited open, but of a path without PAUSE_AT in it
        time.sleep(600)  # until the test's signal


if PAUSE_AT and MARKER:
    sys.addaudithook(_pause_on_open)

"""Stage fetch_not_digits: fetches the pictures that are not digits (Fashion-MNIST's test images) into data/not_digits/.

Reads params `not_digits.mirrors` and `not_digits.test_images` (file name, SHA-256 of its content). Set the
environment variable FASHION_MNIST_MIRROR to a directory holding the file (e.g. /usr/share/datasets/fashion-mnist,
from Debian's dataset-fashion-mnist package) to try it before the network (offline use). Writes
data/not_digits/<file name>, verified against its checksum; stops at once, before any fetch, if
data/not_digits cannot be written.
"""
import os
import sys

from mnist_pipeline.fetch import fetch_file
from mnist_pipeline.negatives import NOT_DIGITS_DIR
from mnist_pipeline.params import load_params
from mnist_pipeline.stage import run_stage

MIRROR_ENV = "FASHION_MNIST_MIRROR"


def main():
    params = load_params("not_digits.mirrors", "not_digits.test_images")
    entry = params.not_digits.test_images
    local_dir = os.environ.get(MIRROR_ENV) or None
    source = fetch_file(entry.name, entry.sha256, NOT_DIGITS_DIR / entry.name, params.not_digits.mirrors, local_dir)
    print(f"{entry.name}: verified, from {source}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

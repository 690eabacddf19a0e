"""Stage 1, download: fetches the dataset's four gzipped IDX files into data/raw/.

Reads params `dataset.mirrors` and `dataset.files` (names, SHA-256 of each file's content). Set the environment
variable MNIST_MIRROR to a directory holding the files to try it before the network (offline use).
Writes data/raw/<file name> for each file, each verified against its checksum; stops at once, before
any fetch, if data/raw cannot be written. The files are fetched into a new folder that replaces data/raw only
once all of them are verified (files.atomic_directory).
"""
import os
import sys

from mnist_pipeline.fetch import fetch_file
from mnist_pipeline.files import atomic_directory
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import RAW_DIR
from mnist_pipeline.stage import run_stage

MIRROR_ENV = "MNIST_MIRROR"


def main():
    params = load_params("dataset.mirrors", "dataset.files")
    local_dir = os.environ.get(MIRROR_ENV) or None
    with atomic_directory(RAW_DIR) as raw:
        for _, entry in params.dataset.files:
            source = fetch_file(entry.name, entry.sha256, raw / entry.name, params.dataset.mirrors, local_dir)
            print(f"{entry.name}: verified, from {source}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

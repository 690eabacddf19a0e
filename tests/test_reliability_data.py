"""Hostile data files through the real stage entry points: download, preprocess, and the loader that train,
evaluate and visualize share (exercised here through train and evaluate, which read nothing before it). Each bad file gives exactly one line naming it, exit status 1, no hang,
and leaves every output already in place byte for byte as it was."""
import functools
import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
import yaml

from conftest import ROOT
from hostile import gzip_bomb
from mnist_pipeline.data import save_split
from mnist_pipeline.idx import encode_idx
from synthetic import FILE_NAMES, write_dataset

RAW = {key: f"data/raw/{name}" for key, name in FILE_NAMES.items()}
TRAIN_IMAGES = FILE_NAMES["train_images"]
TOO_BIG = "content is over 100 MiB once decompressed (MNIST files are under 50 MB)"


def digests(root):
    """SHA-256 of every file under root, except the mirrors the tests serve from."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and p.parts[len(root.parts)] not in ("mirror", "http")}


def run_stage(work, name):
    """Runs `python -m stages.<name>` in `work`; a stage that hangs fails the test after 60 s."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MNIST_MIRROR": str(work / "mirror")}
    return subprocess.run([sys.executable, "-m", f"stages.{name}"], cwd=work, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)


def assert_fails(work, stage, message):
    """The stage exits 1 with exactly `message` on stderr, and changes no file."""
    before = digests(work)
    result = run_stage(work, stage)
    assert (result.returncode, result.stderr) == (1, f"error: {message}\n")
    assert digests(work) == before


@pytest.fixture
def work(tmp_path):
    """A working directory with the repository's params.yaml, set up for a tiny generated dataset in
    work/mirror (the local mirror) and an HTTP mirror on 127.0.0.1 serving work/http (empty: 404s)."""
    (tmp_path / "http").mkdir()
    handler = functools.partial(CountingHandler, directory=str(tmp_path / "http"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["dataset"]["files"] = write_dataset(tmp_path / "mirror")
    params["dataset"]["mirrors"] = [f"http://127.0.0.1:{server.server_port}/"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    CountingHandler.requests = 0
    yield tmp_path
    server.shutdown()


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self):
        CountingHandler.requests += 1
        super().do_GET()

    def log_message(self, *args):
        pass


# --- download ----------------------------------------------------------------------------------

def test_gzip_bomb_on_every_mirror_is_refused(work):
    assert run_stage(work, "download").returncode == 0
    for place in ("mirror", "http"):
        (work / place / TRAIN_IMAGES).write_bytes(gzip_bomb())
    url = yaml.safe_load((work / "params.yaml").read_text())["dataset"]["mirrors"][0]
    assert_fails(work, "download", f"could not fetch {TRAIN_IMAGES} from any source; tried: "
                                   f"{work}/mirror/{TRAIN_IMAGES}: IdxError: {TRAIN_IMAGES}: {TOO_BIG}; "
                                   f"{url}{TRAIN_IMAGES}: IdxError: {TRAIN_IMAGES}: {TOO_BIG}")
    assert CountingHandler.requests == 1  # not retried
    assert sorted(p.name for p in (work / "data/raw").iterdir()) == sorted(FILE_NAMES.values())


@pytest.mark.parametrize("blocker, message", [
    ("data/raw", "data/raw: is not a directory; cannot write outputs into it"),
    ("data", "data/raw: cannot write output (Not a directory)"),
])
def test_unwritable_output_directory_is_reported_before_any_fetch(work, blocker, message):
    (work / blocker).parent.mkdir(parents=True, exist_ok=True)
    (work / blocker).write_text("a file where a directory belongs")
    (work / "mirror" / TRAIN_IMAGES).unlink()  # would send the stage to the HTTP mirror
    assert_fails(work, "download", message)
    assert CountingHandler.requests == 0


# --- preprocess: the IDX files in data/raw ---------------------------------------------------------

def fifo(path):
    path.unlink()
    os.mkfifo(path)


def replace_with(make):
    def corrupt(path):
        path.unlink()
        make(path)
    return corrupt


@pytest.mark.parametrize("key, corrupt, problem", [
    ("train_labels", lambda p: p.unlink(), "not found; run the download stage first (dvc repro)"),
    ("train_images", replace_with(lambda p: p.mkdir()), "is a directory; expected a regular file"),
    ("test_images", replace_with(os.mkfifo), "is a FIFO (named pipe); expected a regular file"),
    ("test_labels", replace_with(lambda p: p.symlink_to("/dev/zero")), "is a character device; expected a regular file"),
    ("train_labels", lambda p: p.write_bytes(b""), "is empty"),
    ("test_images", lambda p: p.write_bytes(p.read_bytes()[:-100]),
     "corrupt or truncated gzip data (Compressed file ended before the end-of-stream marker was reached)"),
    ("train_images", lambda p: p.write_bytes(gzip_bomb(encode_idx(np.zeros((1, 28, 28))))), TOO_BIG),
    ("test_images", lambda p: p.write_bytes(gzip.compress(encode_idx(np.zeros((200, 32, 32))))),
     "images are 32x32; expected 28x28"),
    ("test_labels", lambda p: p.write_bytes(gzip.compress(encode_idx(np.full(200, 12)))),
     "label 12 is outside the class range 0..9"),
], ids=["missing", "directory", "fifo", "device", "empty", "truncated", "gzip-bomb", "wrong-size", "bad-label"])
def test_bad_raw_file_stops_preprocess_with_its_name(work, key, corrupt, problem):
    shutil.copytree(work / "mirror", work / "data/raw")
    for output in ["data/prepared/x_train.npy", "metrics/dataset.json"]:  # from an earlier run
        (work / output).parent.mkdir(parents=True, exist_ok=True)
        (work / output).write_text(f"the output {output} of an earlier run\n")
    corrupt(work / RAW[key])
    assert_fails(work, "preprocess", f"{RAW[key]}: {problem}")


def test_raw_directory_that_is_a_file_stops_preprocess(work):
    (work / "data").mkdir()
    (work / "data/raw").write_text("not a directory")
    assert_fails(work, "preprocess", f"{RAW['train_images']}: cannot read (Not a directory)")


# --- train, evaluate, visualize: the prepared arrays ---------------------------------------------

@pytest.fixture
def prepared(work):
    """`work` with valid prepared arrays and the outputs of a finished run (which must survive a failure)."""
    rng = np.random.default_rng(0)
    for split, n in [("train", 40), ("val", 10), ("test", 20)]:
        save_split(work / "data/prepared", split, rng.random((n, 28, 28, 1), dtype=np.float32),
                   rng.integers(0, 10, n).astype(np.uint8))
    for path in ["models/model.keras", "metrics/train/metrics.json", "metrics/train/plots/metrics/loss.tsv",
                 "metrics/evaluate/metrics.json", "plots/predictions.csv"]:
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(f"the output {path} of an earlier run\n")
    return work


def save(array):
    return lambda path: np.save(path, array, allow_pickle=False)


NAN_IMAGES = np.full((20, 28, 28, 1), np.nan, np.float32)


@pytest.mark.parametrize("stage, name, corrupt, problem", [
    ("train", "y_val.npy", replace_with(lambda p: p.mkdir()), "is a directory; expected a regular file"),
    ("train", "x_train.npy", lambda p: p.unlink(), "not found; run the preprocess stage first (dvc repro)"),
    ("train", "x_train.npy", save(np.zeros((40, 28, 28), np.float32)),
     "shape (40, 28, 28); expected images of shape (N, 28, 28, 1)"),
    ("train", "y_train.npy", save(np.zeros(39, np.uint8)), "39 labels but data/prepared/x_train.npy has 40 images"),
    ("evaluate", "x_test.npy", save(NAN_IMAGES), "pixel values must be in [0, 1]; found NaN"),
    ("evaluate", "x_test.npy", save(np.full((20, 28, 28, 1), 255, np.float32)),
     "pixel values must be in [0, 1]; found values from 255 to 255"),
    ("evaluate", "x_test.npy", replace_with(os.mkfifo), "is a FIFO (named pipe); expected a regular file"),
    ("evaluate", "y_test.npy", save(np.full(20, -1)), "label -1 is negative"),
    ("evaluate", "x_test.npy", lambda p: p.write_bytes(p.read_bytes()[:-1]),
     "not a valid NumPy array file (62847 bytes but its header float32 (20, 28, 28, 1) needs 62848; truncated)"),
    ("evaluate", "x_test.npy", replace_with(lambda p: p.symlink_to("/dev/zero")),
     "is a character device; expected a regular file"),
], ids=["train-dir", "train-missing", "train-shape", "train-lengths", "evaluate-nan", "evaluate-range",
        "evaluate-fifo", "evaluate-negative", "evaluate-truncated", "evaluate-device"])
def test_bad_prepared_array_stops_the_stage_before_any_work(prepared, stage, name, corrupt, problem):
    corrupt(prepared / "data/prepared" / name)
    assert_fails(prepared, stage, f"data/prepared/{name}: {problem}")


def test_prepared_directory_that_is_missing_stops_training(work):
    shutil.rmtree(work / "data", ignore_errors=True)
    assert_fails(work, "train", "data/prepared/x_train.npy: not found; run the preprocess stage first (dvc repro)")

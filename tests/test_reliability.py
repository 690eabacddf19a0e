"""Fault injection on the real stages: killed training, forced reruns, unwritable outputs, bad files."""
import contextlib
import gzip
import hashlib
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from conftest import TINY_RUN_GROUP, dvc, update_params
from mnist_pipeline.history import read_history
from mnist_pipeline.idx import encode_idx

pytestmark = pytest.mark.slow

STATE = "data/checkpoints/train/state.json"
TRAIN_LOG = ("metrics/train/metrics.json", "metrics/train/plots/metrics/*.tsv")  # no run-dependent timings


def digests(repo, *patterns):
    """SHA-256 of every file matching the patterns under repo."""
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
            for pattern in patterns for p in sorted(repo.glob(pattern)) if p.is_file()}


def checkpointed_epoch(repo):
    """The last epoch saved in the train stage's checkpoint (0 when there is none)."""
    try:
        return json.loads((repo / STATE).read_text())["epoch"]
    except (OSError, ValueError):
        return 0


def start_train_and_kill(repo, env, sig):
    """Starts the train stage, sends `sig` once it has finished an epoch; returns (exit code, stderr)."""
    start_epoch = checkpointed_epoch(repo)
    process = subprocess.Popen([sys.executable, "stages/train.py"], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while checkpointed_epoch(repo) <= start_epoch:
        assert process.poll() is None and time.monotonic() < deadline, "training ended before finishing an epoch"
        time.sleep(0.05)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


@TINY_RUN_GROUP
def test_killed_training_keeps_outputs_and_resumes_to_the_same_result(reproduced_copy):
    repo, env = reproduced_copy
    update_params(repo / "params.yaml", {"train": {"epochs": 6}})
    # Every output but DVCLive's logs (metrics/train*/), which the train stage rewrites after each epoch by design
    # (and `dvc repro` deletes before it runs the stage).
    outputs = ("models/*", "models/.*", "metrics/dataset.json", "metrics/evaluate*/*", "plots/*.csv")
    before = digests(repo, *outputs)

    for sig, code, message in [(signal.SIGTERM, 143, "error: terminated"), (signal.SIGINT, 130, "error: interrupted"),
                               (signal.SIGKILL, -9, None)]:
        returncode, stderr = start_train_and_kill(repo, env, sig)
        assert returncode == code
        if message:
            assert f"{message}; outputs already in place are unchanged" in stderr
        assert digests(repo, *outputs) == before  # nothing half-written, nothing lost
    assert checkpointed_epoch(repo) == 3  # each run resumed from the one before and finished one more epoch

    resumed = dvc("repro", "train", cwd=repo, env=env)  # the stages after train are another test's (test_pipeline)
    assert "resuming from the checkpoint of epoch" in resumed.stdout
    assert not (repo / "data/checkpoints/train").exists()
    with contextlib.chdir(repo):  # read_history checks that each log has one row per epoch
        assert list(read_history()["epoch"]) == [1, 2, 3, 4, 5, 6]  # restored epochs logged again, none twice
    resumed_logs = digests(repo, *TRAIN_LOG)
    assert json.loads((repo / "metrics/train/metrics.json").read_text())["step"] == 6
    dvc("repro", "--force", "--single-item", "train", cwd=repo, env=env)  # the same run, uninterrupted
    assert digests(repo, *TRAIN_LOG) == resumed_logs


@TINY_RUN_GROUP
def test_forced_rerun_gives_identical_results(reproduced_copy):
    repo, env = reproduced_copy

    def results():
        lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
        outputs = digests(repo, "metrics/dataset.json", *TRAIN_LOG, "metrics/evaluate/metrics.json",
                          "plots/predictions.csv")
        return outputs, lock["download"]["outs"], lock["preprocess"]["outs"]

    first = results()
    dvc("repro", "--force", "evaluate", cwd=repo, env=env)  # every stage whose outputs are compared, and calibrate
    assert results() == first


@TINY_RUN_GROUP
def test_unwritable_output_directory(reproduced_copy):
    repo, env = reproduced_copy
    (repo / "metrics").chmod(0o500)
    try:
        result = subprocess.run([sys.executable, "stages/preprocess.py"], cwd=repo, env=env, capture_output=True,
                                text=True)
    finally:
        (repo / "metrics").chmod(0o700)
    if result.returncode == 0:
        pytest.skip("running as a user who can write anywhere (root): permissions are not enforced")
    assert result.stderr.startswith("error: metrics/dataset.json: cannot write output (Permission denied)")


@pytest.mark.parametrize("corrupt, message", [
    (lambda files: files["train_labels"].write_bytes(gzip.compress(encode_idx(np.arange(30) % 10))),
     "error: data/raw/train-images-idx3-ubyte.gz: 600 images but data/raw/train-labels-idx1-ubyte.gz has 30 labels"),
    (lambda files: files["test_images"].write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 20)),
     "error: data/raw/t10k-images-idx3-ubyte.gz: bad magic number 0x00000801; expected 0x00000803 "
     "(unsigned bytes, 3 dimensions)"),
])
def test_malformed_raw_file_stops_preprocess_with_its_name(pipeline_copy, corrupt, message):
    repo, env = pipeline_copy
    dvc("repro", "download", cwd=repo, env=env)
    names = yaml.safe_load((repo / "params.yaml").read_text())["dataset"]["files"]
    corrupt({key: repo / "data/raw" / entry["name"] for key, entry in names.items()})
    result = subprocess.run([sys.executable, "stages/preprocess.py"], cwd=repo, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert result.stderr == message + "\n"
    assert not (repo / "data/prepared").exists()

"""A multi-worker training whose peer dies mid-run: the surviving worker ends with one line within a time that
train.worker_timeout_s bounds, and the outputs already in place are unchanged.

Two `stages/train.py` processes on this machine (tests/test_distribute.py's worker copies) train a tiny model for
many epochs; once the chief has logged an epoch, one of them is killed with SIGKILL.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, update_params
from ports import free_ports
from test_distribute import tf_config, tiny_data, worker_copy

pytestmark = pytest.mark.slow

TIMEOUT_S = 60  # also how long the workers wait for each other to start: TensorFlow loads slowly on a busy machine
LIVE_SUMMARY = "metrics/.train.live/metrics.json"  # the chief's DVCLive summary, staged, after every epoch
MESSAGE = ("error: TF_CONFIG: a worker of the cluster did not join or stopped responding within "
           f"train.worker_timeout_s = {TIMEOUT_S} s")


def start_worker(directory, ports, index):
    env = {**os.environ, "TF_CONFIG": tf_config(ports, index), "TMPDIR": str(directory / "tmp"),
           "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(ROOT / "stages/train.py")], cwd=directory, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def digests(directory):
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file() and not {"tmp", ".train.live", ".train_speed.live"} & set(p.parts)}


@pytest.mark.parametrize("killed", [1, 0])  # the chief (worker 0) survives its peer; the other survives the chief
def test_a_worker_whose_peer_dies_mid_run_fails_within_the_timeout(tmp_path, killed):
    train, val = tiny_data(400)
    ports = free_ports(2)
    directories = [worker_copy(tmp_path / f"worker{index}", train, val) for index in range(2)]
    for directory in directories:
        update_params(directory / "params.yaml", {"train": {"epochs": 500, "worker_timeout_s": TIMEOUT_S}})
        (directory / "models").mkdir()
        (directory / "models/model.keras").write_bytes(b"the model of an earlier run")
    before = digests(directories[0])
    workers = [start_worker(directory, ports, index) for index, directory in enumerate(directories)]
    survivor = workers[1 - killed]
    try:
        deadline = time.monotonic() + 300
        while not (directories[0] / LIVE_SUMMARY).exists():
            assert all(worker.poll() is None for worker in workers), [w.communicate()[1] for w in workers]
            assert time.monotonic() < deadline, "no epoch finished"
            time.sleep(0.1)
        assert workers[1 - killed].poll() is None  # still training
        workers[killed].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = survivor.communicate(timeout=TIMEOUT_S * 6)
        took = time.monotonic() - killed_at
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert survivor.returncode == 1, err
    assert err.splitlines()[-1].startswith(MESSAGE), err
    assert took < TIMEOUT_S * 3, took
    assert digests(directories[0]) == before  # the chief's earlier model and logs are as they were

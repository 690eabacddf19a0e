"""Multi-worker failures through the train stage: a bad TF_CONFIG, a worker that never joins, SIGTERM while waiting.

Each run is a fresh `stages/train.py` process in a directory like a checkout (tiny params, random
prepared arrays); the worker's peer is an address on which nothing ever listens.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, TINY_PARAMS, update_params
from mnist_pipeline.cluster import ClusterError, is_chief, tf_config, worker_count
from mnist_pipeline.data import save_split
from ports import free_ports

TIMEOUT_S = 10
EXAMPLE_TASK = {"type": "worker", "index": 0}


def two_workers(ports, index=0):
    return {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]}, "task": {"type": "worker", "index": index}}


@pytest.mark.parametrize("text, message", [
    ("{'cluster': {}}", "TF_CONFIG: not valid JSON (Expecting property name enclosed in double quotes: line 1 "
                        "column 2 (char 1)); expected a JSON object such as {\"cluster\""),
    ("[1, 2]", "TF_CONFIG: list is not an object; expected a JSON object such as"),
    ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG: "cluster" is missing; expected both "cluster" and "task"'),
    ('{"cluster": {"worker": ["a:1"]}}', 'TF_CONFIG: "task" is missing; expected both'),
    (json.dumps({"cluster": [], "task": EXAMPLE_TASK}), "TF_CONFIG: cluster = [] is invalid; expected an object of jobs"),
    (json.dumps({"cluster": {"ps": ["a:1"]}, "task": EXAMPLE_TASK}),
     "TF_CONFIG: cluster job 'ps' is not supported; expected jobs among chief, worker"),
    (json.dumps({"cluster": {"worker": "a:1"}, "task": EXAMPLE_TASK}),
     "TF_CONFIG: cluster.worker = 'a:1' is invalid; expected a non-empty list of addresses \"host:port\""),
    (json.dumps({"cluster": {"chief": ["a:1", "b:1"], "worker": ["c:1"]}, "task": EXAMPLE_TASK}),
     "TF_CONFIG: cluster.chief = ['a:1', 'b:1'] is invalid; expected a list of one address"),
    (json.dumps({"cluster": {"worker": ["a:1", "b"]}, "task": EXAMPLE_TASK}),
     "TF_CONFIG: cluster.worker address 'b' is invalid; expected \"host:port\" with a port in [1, 65535]"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:70000"]}, "task": EXAMPLE_TASK}),
     "TF_CONFIG: cluster.worker address 'b:70000' is invalid"),
    (json.dumps({"cluster": {"worker": ["a:1", "a:1"]}, "task": EXAMPLE_TASK}),
     "TF_CONFIG: address 'a:1' appears twice in the cluster; expected one address per worker"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}),
     "TF_CONFIG: task.type = 'chief' is not a job of the cluster; expected one of worker"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}),
     "TF_CONFIG: task.index = 2 is invalid; expected an integer in [0, 1] (cluster.worker has 2 address(es))"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": "0"}}),
     "TF_CONFIG: task.index = '0' is invalid"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": "worker"}), "TF_CONFIG: task = 'worker' is invalid"),
])
def test_bad_tf_config_is_named(monkeypatch, text, message):
    monkeypatch.setenv("TF_CONFIG", text)
    for read in (tf_config, worker_count, is_chief):
        with pytest.raises(ClusterError) as raised:
            read()
        assert str(raised.value).startswith(message)
        assert "\n" not in str(raised.value)


@pytest.mark.parametrize("text", ["", "  ", "\n"])
def test_empty_tf_config_is_one_worker(monkeypatch, text):
    monkeypatch.setenv("TF_CONFIG", text)
    assert tf_config() == {} and worker_count() == 1 and is_chief()


# --- through the train stage ---------------------------------------------------------------------

@pytest.fixture
def checkout(tmp_path):
    """A directory like a checkout: tiny params (worker_timeout_s = TIMEOUT_S), random prepared arrays, tmp/."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    update_params(tmp_path / "params.yaml", {**TINY_PARAMS, "train": {
        **TINY_PARAMS["train"], "strategy": "auto", "worker_timeout_s": TIMEOUT_S}})
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("val", 16)):
        save_split(tmp_path / "data/prepared", split, rng.random((n, 28, 28, 1), dtype=np.float32),
                   rng.integers(0, 10, n).astype(np.uint8))
    (tmp_path / "tmp").mkdir()
    return tmp_path


def start_train(directory, tf_config_text):
    env = {**os.environ, "TF_CONFIG": tf_config_text, "TMPDIR": str(directory / "tmp"), "PYTHONPATH": str(ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(ROOT / "stages/train.py")], cwd=directory, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def wait_until_listening(worker, port, limit_s=120):
    """Waits until the worker listens on its port (the wait for its peers has begun)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and worker.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return time.monotonic()
        except OSError:
            time.sleep(0.2)
    worker.kill()
    pytest.fail(f"the worker never listened on its port: {worker.communicate()}")


def test_train_stage_reports_a_bad_tf_config_before_loading_tensorflow(checkout):
    worker = start_train(checkout, '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}')
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 1
    assert err == ("error: TF_CONFIG: task.index = 3 is invalid; expected an integer in [0, 0] "
                   "(cluster.worker has 1 address(es))\n")
    assert not (checkout / "models").exists() and not (checkout / "metrics").exists()


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1])  # the coordination leader, and a worker that registers with it
def test_a_worker_whose_peer_never_starts_fails_within_the_timeout(checkout, index):
    ports = free_ports(2)
    worker = start_train(checkout, json.dumps(two_workers(ports, index)))
    began = wait_until_listening(worker, ports[index])
    out, err = worker.communicate(timeout=TIMEOUT_S + 30)
    assert time.monotonic() - began < TIMEOUT_S + 5
    assert worker.returncode == 1, err
    peer = 1 - index
    assert err.splitlines()[-1] == (f"error: TF_CONFIG: worker {peer} (127.0.0.1:{ports[peer]}) did not join within "
                                    f"train.worker_timeout_s = {TIMEOUT_S} s; expected every worker of the cluster "
                                    "started with the same TF_CONFIG cluster")
    assert not (checkout / "models").exists()
    assert list((checkout / "tmp").iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("signum, status, word", [(signal.SIGTERM, 143, "terminated"),
                                                  (signal.SIGINT, 130, "interrupted")])
def test_a_signal_stops_a_worker_waiting_for_its_peer(checkout, signum, status, word):
    ports = free_ports(2)
    worker = start_train(checkout, json.dumps(two_workers(ports, 1)))
    wait_until_listening(worker, ports[1])
    time.sleep(2)
    sent = time.monotonic()
    worker.send_signal(signum)
    out, err = worker.communicate(timeout=30)
    assert time.monotonic() - sent < 3
    assert worker.returncode == status, err
    assert err.splitlines()[-1] == f"error: {word}; outputs already in place are unchanged"
    assert list((checkout / "tmp").iterdir()) == []

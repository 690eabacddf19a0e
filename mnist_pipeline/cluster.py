"""The multi-worker cluster as the standard TF_CONFIG environment variable describes it, checked before TensorFlow starts.

Reads TF_CONFIG (unset or empty: one worker) and, in a multi-worker run, waits for every other worker
to listen on its address; writes nothing. Any problem raises ClusterError, one line starting `TF_CONFIG:`.
No TensorFlow here: the checks and the wait run before it loads, and signals stop the wait at once.
"""
import json
import os
import re
import socket
import time

from mnist_pipeline.stage import PipelineError

JOBS = ("chief", "worker")
EXAMPLE = '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}'
ADDRESS = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$")
PROBE_INTERVAL_S = 0.25


class ClusterError(PipelineError):
    """TF_CONFIG is malformed or inconsistent, or a worker of its cluster did not join or stopped responding."""


def _invalid(problem, expected):
    return ClusterError(f"TF_CONFIG: {problem}; expected {expected}")


def _check_cluster(cluster):
    if not isinstance(cluster, dict) or not cluster:
        raise _invalid(f"cluster = {cluster!r} is invalid", f"an object of jobs ({', '.join(JOBS)}), as in {EXAMPLE}")
    seen = set()
    for job, addresses in cluster.items():
        if job not in JOBS:
            raise _invalid(f"cluster job {job!r} is not supported", f"jobs among {', '.join(JOBS)}")
        if not isinstance(addresses, list) or not addresses or (job == "chief" and len(addresses) > 1):
            count = "a list of one address" if job == "chief" else "a non-empty list of addresses"
            raise _invalid(f"cluster.{job} = {addresses!r} is invalid", f"{count} \"host:port\"")
        for address in addresses:
            match = ADDRESS.match(address) if isinstance(address, str) else None
            if not match or not 1 <= int(match["port"]) <= 65535:
                raise _invalid(f"cluster.{job} address {address!r} is invalid", '"host:port" with a port in [1, 65535]')
            if address in seen:
                raise _invalid(f"address {address!r} appears twice in the cluster", "one address per worker")
            seen.add(address)


def _check_task(task, cluster):
    if not isinstance(task, dict):
        raise _invalid(f"task = {task!r} is invalid", 'an object {"type": "worker", "index": 0}')
    job, index = task.get("type"), task.get("index", 0)
    if job not in cluster:
        raise _invalid(f"task.type = {job!r} is not a job of the cluster", f"one of {', '.join(cluster)}")
    if type(index) is not int or not 0 <= index < len(cluster[job]):
        raise _invalid(f"task.index = {index!r} is invalid", f"an integer in [0, {len(cluster[job]) - 1}] "
                       f"(cluster.{job} has {len(cluster[job])} address(es))")


def tf_config():
    """The checked TF_CONFIG ({} when unset or empty); raises ClusterError when it is malformed or inconsistent."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except ValueError as err:
        raise _invalid(f"not valid JSON ({err})", f"a JSON object such as {EXAMPLE}") from None
    if not isinstance(config, dict):
        raise _invalid(f"{type(config).__name__} is not an object", f"a JSON object such as {EXAMPLE}")
    if "cluster" not in config or "task" not in config:
        raise _invalid(f"\"{'cluster' if 'cluster' not in config else 'task'}\" is missing",
                       f"both \"cluster\" and \"task\", as in {EXAMPLE}")
    _check_cluster(config["cluster"])
    _check_task(config["task"], config["cluster"])
    return config


def worker_count():
    """How many workers TF_CONFIG names (the chief is one of them); 1 without TF_CONFIG."""
    return max(1, sum(len(addresses) for addresses in tf_config().get("cluster", {}).values()))


def is_chief():
    """True for the process that writes the outputs: task type chief, or worker 0 when there is no chief."""
    config = tf_config()
    if not config:
        return True
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task.get("index", 0) == 0


def _listening(address):
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_INTERVAL_S):
            return True
    except OSError:
        return False


def wait_for_peers(timeout_s):
    """Listens on this worker's port until every other worker of TF_CONFIG listens on its own, at most `timeout_s`.

    TensorFlow's own wait for the cluster cannot be interrupted; this one polls, so SIGINT and SIGTERM
    stop it at once. Raises ClusterError naming the workers that did not join in time.
    """
    config = tf_config()
    if worker_count() < 2:
        return
    task = config["task"]
    own = config["cluster"][task["type"]][task.get("index", 0)]
    peers = [(f"{job} {i}", address) for job, addresses in config["cluster"].items()
             for i, address in enumerate(addresses) if address != own]
    with socket.socket(socket.AF_INET6 if own.startswith("[") else socket.AF_INET) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("", int(own.rsplit(":", 1)[1])))
        except OSError as err:
            raise ClusterError(f"TF_CONFIG: this worker's address {own} cannot be used ({err.strerror}); expected "
                               "a free port on this machine for each worker") from None
        listener.listen(16)
        deadline = time.monotonic() + timeout_s
        while peers:
            peers = [(name, address) for name, address in peers if not _listening(address)]
            if peers and time.monotonic() > deadline:
                missing = ", ".join(f"{name} ({address})" for name, address in peers)
                raise ClusterError(f"TF_CONFIG: {missing} did not join within train.worker_timeout_s = {timeout_s} s; "
                                   "expected every worker of the cluster started with the same TF_CONFIG cluster")
            if peers:
                time.sleep(PROBE_INTERVAL_S)

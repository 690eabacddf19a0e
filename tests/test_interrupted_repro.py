"""An interrupted `dvc repro` loses nothing: outputs are `persist` in dvc.yaml (DVC leaves them in place) and each
stage builds its new outputs beside the old ones and swaps them in at the end (files.atomic_directory,
tracking.finish).

After a successful `dvc repro` of a tiny pipeline, a change makes one stage rerun, and `dvc repro` is interrupted
while that stage writes its outputs: the test hook tests/pause_hook/sitecustomize.py holds the stage at its first
write into its staging folder, then the test sends SIGINT to dvc's process group (what Ctrl-C in a terminal does;
DVC itself ignores SIGINT while a stage runs) and, in a second try, SIGKILL to the group. Every output in dvc.lock
must be byte for byte as it was, `dvc status` must report the stage, and a plain `dvc repro` must then finish with
`dvc status` clean and no staging folder left.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY_RUN_GROUP, copy_run, dvc, update_params

pytestmark = [pytest.mark.slow, TINY_RUN_GROUP]

HOOK = Path(__file__).parent / "pause_hook"
# stage: (a change that makes it rerun: params, or the path of its script to append a comment to; the staging path
# it writes into first)
CHANGES = {
    "download": ({"dataset": {"mirrors": ["http://127.0.0.1:9/moved/"]}}, "data/.raw.new/"),
    # The same arrays written again: once it has rerun, the stages after it are up to date (a whole rerun after an
    # interrupted stage is the train case's: the stages after train rerun there).
    "preprocess": ("stages/preprocess.py", "data/.prepared.new/"),
    "visualize": ({"visualize": {"dpi": 60}}, "plots/.figures.new/"),
}
# The train case is conftest's `ensemble_run`: its train params changed to an ensemble, its `dvc repro` first
# interrupted (by `interrupt_twice` below) after the first epoch is logged; the stages after train all rerun there,
# in the one whole rerun after a train change the suite pays for (test_pipeline and test_report read it too).
TRAIN_STAGING = "metrics/.train.live/"
STAGING = ("**/.*.new", "**/.*.live")


@pytest.fixture(scope="module")
def reproduced(tiny_run, tmp_path_factory):
    """A copy of the session's tiny pipeline after its `dvc repro`, shared by the tests below (each leaves it
    reproduced)."""
    return copy_run(tiny_run, tmp_path_factory.mktemp("interrupted") / "repo")


def committed_outputs(repo):
    """{path: sha256} of every file under every output dvc.lock records."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    digests = {}
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            path = repo / out["path"]
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_file():
                    digests[str(file.relative_to(repo))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digests


def changed_stages(repo, env):
    return set(json.loads(dvc("status", "--json", cwd=repo, env=env).stdout))


def interrupted_repro(repo, env, staging, signum, tmp_path):
    """Starts `dvc repro`, waits until a stage first writes into `staging`, sends `signum` to dvc's process group
    and returns dvc's exit status."""
    marker = tmp_path / f"paused-{signum}"
    hooked = {**env, "PYTHONPATH": f"{HOOK}{os.pathsep}{env['PYTHONPATH']}", "PAUSE_AT_PATH": staging,
              "PAUSE_MARKER": str(marker)}
    with open(tmp_path / f"repro-{signum}.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=hooked, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while not marker.exists():
                assert process.poll() is None, (tmp_path / f"repro-{signum}.log").read_text()
                assert time.monotonic() < deadline, f"no stage wrote into {staging}"
                time.sleep(0.05)
            os.killpg(process.pid, signum)
            return process.wait(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def interrupt_twice(repo, env, change, staging, tmp_path):
    """Makes `change` (params, or the path of a script to append a comment to) in an up-to-date `repo`, then runs
    `dvc repro` twice, interrupted (SIGINT, then SIGKILL) when a stage first writes into `staging`.
    Returns {"up_to_date_before": ..., signum: (dvc's exit status, every committed output unchanged, dvc.lock
    unchanged, the stages `dvc status` reports)}: what test_interrupted_repro asserts."""
    found = {"up_to_date_before": changed_stages(repo, env) == set()}
    before, lock = committed_outputs(repo), (repo / "dvc.lock").read_bytes()
    if isinstance(change, str):
        with open(repo / change, "a") as script:
            script.write("# changed by test_interrupted_repro\n")
    else:
        update_params(repo / "params.yaml", change)
    for signum in (signal.SIGINT, signal.SIGKILL):
        status = interrupted_repro(repo, env, staging, signum, tmp_path)
        found[signum] = (status, committed_outputs(repo) == before, (repo / "dvc.lock").read_bytes() == lock,
                         changed_stages(repo, env))
    return found


def assert_nothing_lost(found, stage):
    assert found["up_to_date_before"]
    for signum in (signal.SIGINT, signal.SIGKILL):
        status, outputs_kept, lock_kept, changed = found[signum]
        assert status != 0, signum
        assert outputs_kept, signum
        assert lock_kept, signum
        assert stage in changed, signum


def assert_finished_cleanly(repo, env):
    assert changed_stages(repo, env) == set()
    assert not [p for pattern in STAGING for p in repo.glob(pattern)]  # what the kill left is cleared


@pytest.mark.parametrize("stage", CHANGES)  # in pipeline order: each test starts from the last one's outputs
def test_interrupted_repro_keeps_every_committed_output(reproduced, stage, tmp_path):
    repo, env = reproduced
    assert_nothing_lost(interrupt_twice(repo, env, *CHANGES[stage], tmp_path), stage)
    dvc("repro", cwd=repo, env=env)
    assert_finished_cleanly(repo, env)


def test_interrupted_train_keeps_every_committed_output(ensemble_interrupted, ensemble_run):
    """The train case, in conftest's `ensemble_run`: interrupted twice after its train params changed (to an
    ensemble), then a plain `dvc repro` reran train and every stage after it."""
    assert_nothing_lost(ensemble_interrupted[2], "train")
    repo, env, _ = ensemble_run
    assert_finished_cleanly(repo, env)

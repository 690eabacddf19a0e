"""DVC remotes: a fresh clone pulls every output from a shared-directory remote and reruns nothing."""
import re

import pytest

from conftest import TINY_RUN_GROUP, dvc, run
from test_experiments import commit_all

pytestmark = [pytest.mark.slow, TINY_RUN_GROUP]


def test_clone_pulls_the_outputs_and_reruns_nothing(reproduced_copy, tmp_path):
    repo, env = reproduced_copy
    dvc("remote", "add", "-d", "storage", str(tmp_path / "storage"), cwd=repo, env=env)  # into .dvc/config
    commit_all(repo, "pipeline run, with its remote")
    dvc("push", cwd=repo, env=env)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], cwd=tmp_path)
    clone_env = {**env, "PYTHONPATH": str(clone), "MNIST_MIRROR": str(tmp_path / "no-such-mirror")}
    dvc("pull", cwd=clone, env=clone_env)
    assert (clone / "models/model.keras").is_file() and (clone / "data/prepared/x_test.npy").is_file()
    assert "up to date" in dvc("status", cwd=clone, env=clone_env).stdout
    assert re.findall(r"Running stage '(\w+)'", dvc("repro", cwd=clone, env=clone_env).stdout) == []

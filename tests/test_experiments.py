"""DVC experiment queues: queued runs with different params each keep their own params and metrics.

Queued experiments run in temporary copies of the last commit, in a background DVC queue worker
that inherits this environment (MNIST_MIRROR, the venv's python first on PATH).
"""
import json

import pytest

from conftest import dvc, run

pytestmark = pytest.mark.slow

RATES = {"lr-low": 0.001, "lr-high": 0.01}


def commit_all(repo, message):
    """Commits the whole working tree of a temporary repository, as a test user."""
    run(["git", "config", "user.name", "Pipeline test"], cwd=repo)
    run(["git", "config", "user.email", "test@example.com"], cwd=repo)
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "commit", "-q", "-m", message], cwd=repo)


def experiments(repo, env):
    """{name: (params.yaml values, metrics/evaluate.json values)} of the experiments `dvc exp show` lists."""
    found = {}
    for baseline in json.loads(dvc("exp", "show", "--json", cwd=repo, env=env).stdout):
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                data = rev["data"]
                found[rev["name"]] = (data["params"]["params.yaml"]["data"],
                                      data["metrics"].get("metrics/evaluate.json", {}).get("data"))
    return found


def test_queued_sweep_runs_every_experiment_with_its_own_params(pipeline_copy):
    repo, env = pipeline_copy
    commit_all(repo, "pipeline")
    for name, rate in RATES.items():
        dvc("exp", "run", "--queue", "-n", name, "-S", f"train.learning_rate={rate}", "evaluate", cwd=repo, env=env)
    try:
        # --run-all starts a queue worker (as `dvc queue start` does) and waits for every queued experiment.
        dvc("exp", "run", "--run-all", "-j", "1", cwd=repo, env=env)
    finally:
        dvc("queue", "stop", cwd=repo, env=env, check=False)  # the worker would otherwise idle for a minute
    results = experiments(repo, env)
    assert set(RATES) <= set(results), dvc("queue", "status", cwd=repo, env=env).stdout
    for name, rate in RATES.items():
        params, metrics = results[name]
        assert params["train"]["learning_rate"] == rate
        assert 0 <= metrics["test_accuracy"] <= 1
    assert results["lr-low"][1] != results["lr-high"][1]  # different runs, not one result shown twice

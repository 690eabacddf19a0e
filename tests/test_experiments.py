"""DVC experiments on a tiny pipeline: a queued sweep whose runs each keep their own params and DVCLive metrics,
`dvc exp show` while a queued run is still training, `dvc plots diff` between two experiments, and the model
fetched as a DVC artifact from a clone of the repository.

Queued experiments run in temporary copies of the last commit, in a background DVC queue worker that inherits
this environment (MNIST_MIRROR, the venv's python first on PATH). The tests share one sweep and run in order.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from conftest import dvc, make_pipeline_copy, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("experiments")]  # its `sweep` is made on one xdist worker

RATES = {"lr-low": 0.001, "lr-high": 0.01}
EPOCHS = 3
# The stages the experiments' pipeline keeps: every output the tests read comes from train or evaluate. The stages
# after them (export, robustness, not_a_digit, visualize, report) would add minutes to each run and are checked on
# the session's tiny run (conftest `tiny_run`).
STAGES = ["download", "preprocess", "train", "calibrate", "evaluate"]
# After every epoch DVCLive writes {"pid": the training process, "step": the epoch} to this file of the
# repository the experiment was queued in (DVC points DVC_ROOT of a queued run there, not at its temporary
# copy), for the VS Code extension to refresh; it deletes the file when the run ends.
STEP_SIGNAL = ".dvc/tmp/exps/run/DVCLIVE_STEP_COMPLETED"


def commit_all(repo, message):
    """Commits the whole working tree of a temporary repository, as a test user."""
    run(["git", "config", "user.name", "Pipeline test"], cwd=repo)
    run(["git", "config", "user.email", "test@example.com"], cwd=repo)
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "commit", "-q", "-m", message], cwd=repo)


def experiments(repo, env):
    """{name: (state, params.yaml values, {metrics file: values})} of the experiments `dvc exp show` lists."""
    found = {}
    for baseline in json.loads(dvc("exp", "show", "--json", cwd=repo, env=env).stdout):
        for experiment in baseline.get("experiments") or []:
            state = (experiment.get("executor") or {}).get("state", "success")
            for rev in experiment["revs"]:
                data = rev.get("data") or {}
                found[rev["name"] or experiment["name"]] = (
                    state, (data.get("params") or {}).get("params.yaml", {}).get("data"),
                    {path: values.get("data") for path, values in (data.get("metrics") or {}).items()})
    return found


def wait_for(condition, what, timeout=1200, interval=0.02):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)
    return result


def step_signal(repo):
    """DVCLive's last step signal in `repo` ({"pid": ..., "step": ...}), or None while there is none."""
    try:
        return json.loads((repo / STEP_SIGNAL).read_text())
    except (OSError, ValueError):  # not written yet, or caught half-written
        return None


def running_summary(repo):
    """The train summary (metrics.json) in the temporary copy a queued experiment runs in."""
    (path,) = repo.glob(".dvc/tmp/exps/tmp*/metrics/train/metrics.json")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A committed tiny pipeline cut down to STAGES, its data prepared, and two queued experiments of that whole
    pipeline (every stage, so that `dvc exp apply` finds every cached output) started with `dvc queue start`.

    Returns (repo, env, what `dvc exp show` listed while the first run was paused after an epoch, the train
    summary in that run's temporary copy at that moment) once both runs have ended.
    """
    repo, env = make_pipeline_copy(tmp_path_factory.mktemp("experiments"))
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    pipeline["stages"] = {name: pipeline["stages"][name] for name in STAGES}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    commit_all(repo, "pipeline")
    dvc("repro", "preprocess", cwd=repo, env=env)
    for name, rate in RATES.items():
        dvc("exp", "run", "--queue", "-n", name, "-S", f"train.learning_rate={rate}", "-S", f"train.epochs={EPOCHS}",
            cwd=repo, env=env)
    paused = {}

    def pause_after_first_epoch():  # watches from before the worker starts: an epoch can take under a second
        paused.update(wait_for(lambda: step_signal(repo), "the first logged epoch"))
        assert paused["step"] < EPOCHS, f"first saw the signal of epoch {paused['step']}: the run is ending"
        os.kill(paused["pid"], signal.SIGSTOP)  # holds the training after this epoch while we look

    watcher = threading.Thread(target=pause_after_first_epoch, daemon=True)
    watcher.start()
    # The worker it starts outlives it: with its output captured, run() would wait for the worker's end.
    subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", "1"], cwd=repo, env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        watcher.join(timeout=1200)
        assert paused, "no epoch was logged"
        try:
            live = experiments(repo, env)
            on_disk = running_summary(repo)
        finally:
            os.kill(paused["pid"], signal.SIGCONT)
        # Each look starts a dvc process (a second of CPU): back to back they would slow the runs they wait for.
        wait_for(lambda: "Running" not in (status := dvc("queue", "status", cwd=repo, env=env).stdout)
                 and "Queued" not in status, "the queued runs to end", interval=2)
    finally:
        dvc("queue", "stop", cwd=repo, env=env, check=False)  # the worker would otherwise idle for a minute
    return repo, env, live, on_disk


def test_exp_show_reports_a_queued_run_while_it_trains(sweep):
    _, _, live, on_disk = sweep
    states = {name: state for name, (state, _, _) in live.items()}
    assert states == {"lr-low": "running", "lr-high": "queued"}, live  # the worker runs the queue in order
    train = live["lr-low"][2]["metrics/train/metrics.json"]
    assert train == on_disk  # the latest epoch DVCLive logged, as the paused run left it
    assert 1 <= train["step"] < EPOCHS and "best_epoch" not in train  # the final summary is not written yet
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(train)


def test_queued_sweep_reports_every_run_with_its_own_params(sweep):
    repo, env, _, _ = sweep
    results = experiments(repo, env)
    assert set(RATES) <= set(results), dvc("queue", "status", cwd=repo, env=env).stdout
    for name, rate in RATES.items():
        state, params, metrics = results[name]
        assert state == "success" and params["train"]["learning_rate"] == rate
        train = metrics["metrics/train/metrics.json"]
        assert train["step"] == EPOCHS and 1 <= train["best_epoch"] <= EPOCHS  # last epoch's values + summary
        assert 0 <= train["val_accuracy"] <= 1 and train["learning_rate"] >= 0
        assert metrics["metrics/train_speed/metrics.json"]["training_seconds"] > 0
        assert 0 <= metrics["metrics/evaluate/metrics.json"]["test_accuracy"] <= 1
    assert results["lr-low"][2] != results["lr-high"][2]  # different runs, not one result shown twice


def test_plots_diff_draws_both_experiments(sweep):
    repo, env, _, _ = sweep
    plots = json.loads(dvc("plots", "diff", *RATES, "--json", cwd=repo, env=env).stdout)["data"]
    for title, rows in (("Accuracy per epoch", 2 * EPOCHS), ("Loss per epoch", 2 * EPOCHS),
                        ("Learning rate", EPOCHS), ("Confusion matrix", 200)):  # 200 test images
        (plot,) = plots[title]
        assert plot["type"] == "vega" and set(plot["revisions"]) == set(RATES), title
        for name in RATES:
            assert sum(row["rev"] == name for row in plot["content"]["data"]["values"]) == rows, (title, name)
    html = dvc("plots", "diff", *RATES, "-o", "diff", cwd=repo, env=env)
    assert (repo / "diff/index.html").is_file(), html.stdout


def test_model_artifact_from_a_clone(sweep, tmp_path):
    repo, env, _, _ = sweep
    dvc("exp", "apply", "lr-low", cwd=repo, env=env)
    dvc("remote", "add", "-d", "storage", str(tmp_path / "remote"), cwd=repo, env=env)
    commit_all(repo, "lr-low")
    run(["gto", "register", "mnist-cnn", "--version", "v1.0.0"], cwd=repo, env=env)
    dvc("push", "models/model.keras", cwd=repo, env=env)
    run(["git", "clone", "-q", str(repo), str(tmp_path / "clone")], cwd=tmp_path)
    (tmp_path / "out").mkdir()
    dvc("artifacts", "get", str(tmp_path / "clone"), "mnist-cnn", cwd=tmp_path / "out", env=env)  # the latest
    dvc("artifacts", "get", str(tmp_path / "clone"), "mnist-cnn", "--rev", "v1.0.0", "-o", "v1.keras",
        cwd=tmp_path / "out", env=env)
    for name in ("model.keras", "v1.keras"):
        assert (tmp_path / "out" / name).read_bytes() == (repo / "models/model.keras").read_bytes(), name

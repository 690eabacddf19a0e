"""End-to-end `dvc repro` of the pipeline in a temporary repository on small generated data."""
import contextlib
import json
import re
import sys

import pandas as pd
import pytest

from conftest import TINY_RUN_GROUP, copy_run, dvc, run, update_params
from mnist_pipeline.history import read_history
from mnist_pipeline.precision import resolve_precision

pytestmark = [pytest.mark.slow, TINY_RUN_GROUP]

STAGES = ["download", "preprocess", "train", "evaluate", "visualize", "report"]  # the main line, among the others
FIGURES = ["accuracy.png", "loss.png", "confusion_matrix.png", "sample_predictions.png", "mistakes.png",
           "per_class_accuracy.png", "filters.png", "reliability.png"]


def stages_run(result):
    """Names of the stages a `dvc repro` actually ran."""
    return re.findall(r"Running stage '(\w+)'", result.stdout)


def pipeline_dag(repo, env):
    """(every stage, [(upstream, downstream), ...]) of the pipeline, as `dvc dag` reads dvc.yaml."""
    dot = dvc("dag", "--dot", cwd=repo, env=env).stdout
    return set(re.findall(r'^"(\w+)";$', dot, re.MULTILINE)), re.findall(r'^"(\w+)" -> "(\w+)";$', dot, re.MULTILINE)


def assert_ran_in_order(ran, edges):
    """Each stage ran once, after every stage it depends on that ran too."""
    assert len(ran) == len(set(ran)), ran
    for upstream, downstream in edges:
        if upstream in ran and downstream in ran:
            assert ran.index(upstream) < ran.index(downstream), (upstream, downstream, ran)


@pytest.fixture(scope="module")
def reproduced(tiny_run, tmp_path_factory):
    """A copy of the session's full `dvc repro` of a tiny pipeline and that run's result, shared by this module's
    tests (which run in order and change it)."""
    repo, env = copy_run(tiny_run, tmp_path_factory.mktemp("pipeline") / "repo")
    return repo, env, tiny_run[2]


def test_full_run_builds_every_output(reproduced):
    repo, env, result = reproduced
    stages, edges = pipeline_dag(repo, env)
    assert set(STAGES) <= stages and set(stages_run(result)) == stages
    assert_ran_in_order(stages_run(result), edges)
    for split in ("train", "val", "test"):
        assert (repo / f"data/prepared/x_{split}.npy").is_file()
    # The saved model loads with plain Keras, without this project's code.
    run([sys.executable, "-c", "import keras; keras.models.load_model('models/model.keras')"], cwd=repo,
        env={k: v for k, v in env.items() if k != "PYTHONPATH"})
    counts = json.loads((repo / "metrics/dataset.json").read_text())
    assert counts["train"]["total"] + counts["val"]["total"] == 600
    assert counts["val"]["total"] == 120 and counts["test"]["total"] == 200
    with contextlib.chdir(repo):  # the paths history.read_history reads are relative to the repository root
        history = read_history()
    assert list(history.columns) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                                     "seconds"]
    assert list(history["epoch"]) == [1, 2]
    train = json.loads((repo / "metrics/train/metrics.json").read_text())
    assert train["step"] == 2 and train["val_accuracy"] == history["val_accuracy"].iloc[-1]  # DVCLive's summary
    speed = json.loads((repo / "metrics/train_speed/metrics.json").read_text())
    chosen = resolve_precision("auto")  # params.yaml's train.precision: what it picks on this machine is recorded
    assert speed["precision"] == chosen and f"train.precision auto: training in {chosen}" in result.stdout
    assert not list(repo.glob("metrics/**/dvc.yaml"))  # dvc.yaml at the root is the only pipeline definition
    evaluation = json.loads((repo / "metrics/evaluate/metrics.json").read_text())
    assert evaluation["test_accuracy"] > 0.5  # ten orientations of a bar are easy to tell apart
    predictions = pd.read_csv(repo / "plots/predictions.csv")
    assert len(predictions) == 200
    assert evaluation["misclassified"] == int((predictions.actual != predictions.predicted).sum())
    for name in FIGURES:
        assert (repo / "plots/figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "Accuracy per epoch" in dvc("plots", "show", "--json", cwd=repo, env=env).stdout
    assert "test_accuracy" in dvc("metrics", "show", cwd=repo, env=env).stdout


def test_second_repro_runs_nothing(reproduced):
    repo, env, _ = reproduced
    assert stages_run(dvc("repro", cwd=repo, env=env)) == []
    assert "up to date" in dvc("status", cwd=repo, env=env).stdout


# A visualize param change reruns visualize and report (the report links the figures):
# test_report.test_new_figures_rerun_report_without_changing_it makes the same change (visualize.dpi = 60) with the
# same assertion on the stages that ran, and checks the report too.


def test_train_param_change_reruns_train_and_after(ensemble_run):
    """The train params of a copy of the tiny run changed (to an ensemble: conftest's `ensemble_run`, whose model
    and report test_report reads), then `dvc repro`."""
    repo, env, result = ensemble_run
    ran = stages_run(result)
    _, edges = pipeline_dag(repo, env)
    after_train = {"train"}
    while later := {downstream for upstream, downstream in edges if upstream in after_train} - after_train:
        after_train |= later
    assert {"train", "evaluate", "visualize", "report"} <= after_train and set(ran) == after_train
    assert_ran_in_order(ran, edges)


def test_mirror_change_reruns_download_only(reproduced):
    repo, env, _ = reproduced
    update_params(repo / "params.yaml", {"dataset": {"mirrors": ["http://127.0.0.1:9/other/"]}})
    # Same files, same checksums: download's outputs are unchanged, so nothing downstream reruns.
    assert stages_run(dvc("repro", cwd=repo, env=env)) == ["download"]


def test_bad_param_fails_with_one_line(reproduced):
    repo, env, _ = reproduced
    update_params(repo / "params.yaml", {"train": {"epochs": 0}})
    result = dvc("repro", cwd=repo, env=env, check=False)
    assert result.returncode != 0
    assert "error: params.yaml: train.epochs = 0 is invalid; expected an integer in [1, 1000]\n" in result.stderr

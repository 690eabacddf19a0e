"""DVCLive logging (mnist_pipeline.tracking) and reading the history back (mnist_pipeline.history).

Runs in a temporary directory: the logs go to its metrics/ (the paths in paths.py are relative).
"""
import json

import pandas as pd
import pytest

from mnist_pipeline.files import InputError
from mnist_pipeline.history import HistoryError, metric_file, read_history
from mnist_pipeline.paths import HISTORY_COLUMNS, TRAIN_LOG, TRAIN_METRICS, TRAIN_SPEED
from mnist_pipeline.tracking import TrainingLog, write_summary


def row(epoch, member):
    """A history row whose every value says which member and epoch it belongs to."""
    values = {name: round(member + epoch / 10 + i / 1000, 3) for i, name in enumerate(HISTORY_COLUMNS[1:])}
    return {"epoch": epoch, **values}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)  # as under `dvc repro` in the workspace: logs staged
    return tmp_path


def test_members_log_apart_with_step_equal_to_epoch(workdir):
    log = TrainingLog()
    for member, held_out in ((1, True), (2, True), (3, False)):
        log.tracker(member, held_out).log_epochs([row(1, member), row(2, member)])
    log.end({"best_epoch": 2}, {"training_seconds": 1.5})

    for member in (1, 2):
        expected = pd.DataFrame([row(1, member), row(2, member)])[list(HISTORY_COLUMNS)]
        pd.testing.assert_frame_equal(read_history(member), expected, check_dtype=False)
    assert pd.read_csv(metric_file("loss", 2), sep="\t").columns.tolist() == ["step", "loss"]
    # Member 3 trained on the validation images: its validation figures are not logged.
    assert metric_file("loss", 3).is_file() and not metric_file("val_accuracy", 3).exists()

    summary = json.loads(TRAIN_METRICS.read_text())
    assert summary["step"] == 2 and summary["best_epoch"] == 2
    assert summary["val_accuracy"] == row(2, 1)["val_accuracy"]  # the last epoch of the first member
    assert summary["member2"]["loss"] == row(2, 2)["loss"] and "val_loss" not in summary["member3"]
    assert "seconds" not in summary  # run-dependent: logged in the speed log only
    speed = json.loads(TRAIN_SPEED.read_text())
    assert speed["seconds"] == row(2, 1)["seconds"] and speed["training_seconds"] == 1.5
    assert not list(workdir.rglob("dvc.yaml"))  # dvc.yaml in the repository declares the logs


def finished_log(rows, member=1):
    log = TrainingLog()
    log.tracker(member, True).log_epochs(rows)
    log.end({}, {})


def test_a_new_log_replaces_the_old_one_whole(workdir):
    log = TrainingLog()
    for member in (1, 2):
        log.tracker(member, True).log_epochs([row(1, member), row(2, member)])
    log.end({}, {})
    finished_log([row(1, 1)])
    assert list(read_history()["epoch"]) == [1]
    assert not metric_file("loss", 2).exists()  # no file of the old log survives


def test_an_unfinished_log_leaves_the_old_one_whole(workdir):
    finished_log([row(1, 1), row(2, 1)])
    before = {path: path.read_bytes() for path in sorted(workdir.rglob("*")) if path.is_file()}
    TrainingLog().tracker(1, True).log_epochs([row(1, 1)])  # a run killed after its first epoch
    write_summary(workdir / "metrics/evaluate", {"test_accuracy": 0.5})
    assert {path: path.read_bytes() for path in before} == before
    assert list(read_history()["epoch"]) == [1, 2]
    TrainingLog()  # the next run starts from an empty staging folder
    assert not list((workdir / "metrics/.train.live").rglob("*.tsv"))


def test_in_an_experiments_temporary_copy_it_logs_in_place(workdir, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(workdir.parent))  # dvc exp run --queue: the repository it was queued in
    TrainingLog().tracker(1, True).log_epochs([row(1, 1)])
    assert json.loads(TRAIN_METRICS.read_text())["step"] == 1  # what `dvc exp show` reads while it runs
    monkeypatch.setenv("DVC_ROOT", str(workdir))  # dvc repro or dvc exp run in the workspace
    TrainingLog().tracker(1, True).log_epochs([row(1, 1), row(2, 1)])
    assert json.loads(TRAIN_METRICS.read_text())["step"] == 1


def test_summary_of_a_stage(workdir):
    write_summary(workdir / "metrics/evaluate", {"test_accuracy": 0.5, "per_class_accuracy": {"0": 1.0}})
    assert json.loads((workdir / "metrics/evaluate/metrics.json").read_text()) == {
        "test_accuracy": 0.5, "per_class_accuracy": {"0": 1.0}}


def test_missing_or_broken_history_is_one_line(workdir):
    with pytest.raises(InputError, match=r"^metrics/train/plots/metrics/loss.tsv: not found; run `dvc repro`"):
        read_history()
    finished_log([row(1, 1), row(2, 1)])
    path = TRAIN_LOG / "plots/metrics/accuracy.tsv"
    path.write_text("step\taccuracy\n1\t0.5\n")
    with pytest.raises(HistoryError, match="the per-epoch logs cover different epochs"):
        read_history()
    path.write_text("step\tacc\n1\t0.5\n2\t0.6\n")
    with pytest.raises(HistoryError, match=f"^{path}: expected columns step, accuracy and one row per epoch"):
        read_history()

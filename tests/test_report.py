"""The report stage: its numbers match the pipeline's outputs, its links resolve, it reruns only when its inputs
change and it stops with one line when an input is missing.

Reads the reports/*.md of the session's `dvc repro` on tiny generated data (conftest's `tiny_run`), in a copy
of its temporary repository.
"""
import contextlib
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import TINY_RUN_GROUP, copy_run, dvc, run, update_params
from test_pipeline import stages_run

from mnist_pipeline.history import metric_file, read_history
from mnist_pipeline.paths import (DATASET_METRICS, EVALUATE_METRICS, EVALUATE_SPEED, MODEL_CARD_FILE, PREDICTIONS_PLOT,
                                  REPORT_FILE, TRAIN_METRICS, TRAIN_SPEED)

pytestmark = [pytest.mark.slow, TINY_RUN_GROUP]

# How far a number the report prints with 4 decimals (a percentage with 2) may be from the one it was rounded from:
# half its last digit, plus float error (0.39375 is printed 39.38%, read back as 0.39380000000000004).
PRINTED = 5e-5 + 1e-9

@pytest.fixture(scope="module")
def tiny(tiny_run, tmp_path_factory):
    """(repo, env, result of its `dvc repro`): a copy of the tiny run, shared by this module's tests (which run in
    order; some rerun stages in it)."""
    repo, env = copy_run(tiny_run, tmp_path_factory.mktemp("report") / "repo")
    return repo, env, tiny_run[2]


def read_json(repo, path):
    return json.loads((repo / path).read_text())


def history_of(repo):
    with contextlib.chdir(repo):
        return read_history()


def section(text, heading):
    """The text under the Markdown `heading` line, up to the next heading of any level."""
    return text.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]


def table_rows(text, heading):
    """{first cell: [other cells]} of the first Markdown table under `heading`, without the header row."""
    lines = [line for line in section(text, heading).splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: row[1:] for row in rows}


def percent(cell):
    return float(cell.rstrip("%")) / 100


def integer(cell):
    return int(cell.strip("*").replace(",", ""))


def test_report_runs_after_visualize(tiny):
    repo, _, result = tiny
    assert stages_run(result)[-2:] == ["visualize", "report"]
    assert (repo / REPORT_FILE).is_file() and (repo / MODEL_CARD_FILE).is_file()


def test_numbers_match_the_outputs(tiny):
    repo, _, _ = tiny
    text = (repo / REPORT_FILE).read_text()
    evaluation, dataset = read_json(repo, EVALUATE_METRICS), read_json(repo, DATASET_METRICS)
    predictions = pd.read_csv(repo / PREDICTIONS_PLOT)

    headline = table_rows(text, "## Results")
    assert percent(headline["test accuracy"][0]) == pytest.approx(evaluation["test_accuracy"], abs=PRINTED)
    assert float(headline["test loss (cross-entropy, no smoothing)"][0]) == pytest.approx(evaluation["test_loss"],
                                                                                          abs=PRINTED)
    for key in ("macro_precision", "macro_recall", "macro_f1"):
        assert float(headline[key.replace("_", " ").replace("f1", "F1")][0]) == pytest.approx(evaluation[key],
                                                                                              abs=PRINTED)
    assert integer(headline["misclassified"][0]) == evaluation["misclassified"]

    per_class = table_rows(text, "### Per class")
    assert list(per_class) == list(evaluation["per_class_accuracy"])
    for name, (images, correct, accuracy, *_) in per_class.items():
        rows = predictions[predictions["actual"] == int(name)]
        assert integer(images) == len(rows) == dataset["test"][name]
        assert integer(correct) == int((rows["predicted"] == rows["actual"]).sum())
        assert percent(accuracy) == pytest.approx(evaluation["per_class_accuracy"][name], abs=PRINTED)

    counts = table_rows(text, "## Dataset")
    for column, split in enumerate(("train", "val", "test")):
        assert {name: integer(cells[column]) for name, cells in counts.items() if name != "**total**"} == \
            {name: n for name, n in dataset[split].items() if name != "total"}
        assert integer(counts["**total**"][column]) == dataset[split]["total"]

    mistakes = predictions[predictions["actual"] != predictions["predicted"]]
    expected = mistakes.groupby(["actual", "predicted"]).size().sort_values(ascending=False, kind="stable")
    listed = re.findall(r"^- (\S+) → (\S+): (\d+)$", text, re.MULTILINE)
    assert listed and [int(n) for *_, n in listed] == list(expected.head(len(listed)))
    for actual, predicted, n in listed:
        assert int(n) == expected[(int(actual), int(predicted))]


def test_architecture_and_history_match(tiny):
    repo, _, _ = tiny
    text = (repo / REPORT_FILE).read_text()
    layers = table_rows(text, "## Architecture")
    assert sum(integer(cells[2]) for cells in layers.values()) == read_json(repo, TRAIN_METRICS)["parameters"]
    assert "`class_probabilities`" in layers and layers["`class_probabilities`"][1] == "10"

    final = history_of(repo).iloc[-1]
    epochs = table_rows(text, "## Overfitting check")
    (row,) = [cells for label, cells in epochs.items() if label.startswith(f"{int(final['epoch'])} (")]
    assert percent(row[0]) == pytest.approx(final["accuracy"], abs=PRINTED)
    assert percent(row[1]) == pytest.approx(final["val_accuracy"], abs=PRINTED)
    assert float(row[4]) == pytest.approx(final["val_loss"], abs=PRINTED)
    speed = table_rows(text, "## Run time and throughput")
    assert speed["training time"][0].startswith(f"{read_json(repo, TRAIN_SPEED)['training_seconds']:,.1f} s")


def test_links_resolve_relative_to_the_reports_folder(tiny):
    repo, _, _ = tiny
    for path in (REPORT_FILE, MODEL_CARD_FILE):
        links = re.findall(r"\]\(([^)#]+)[^)]*\)", (repo / path).read_text())
        assert links, path
        for link in links:
            assert not Path(link).is_absolute() and (repo / path.parent / link).is_file(), f"{path}: {link}"
    figures = re.findall(r"!\[[^]]*\]\(\.\./plots/figures/(\w+\.png)\)", (repo / REPORT_FILE).read_text())
    assert sorted(figures) == sorted(path.name for path in (repo / "plots/figures").glob("*.png"))


def test_dataset_name_change_reruns_report_only(tiny):
    repo, env, _ = tiny
    update_params(repo / "params.yaml", {"dataset": {"name": "Tiny bars"}})
    assert stages_run(dvc("repro", cwd=repo, env=env)) == ["report"]
    assert (repo / REPORT_FILE).read_text().startswith("# Tiny bars CNN: run report\n")


def test_new_figures_rerun_report_without_changing_it(tiny):
    # visualize.dpi is not a param of report, but the figures it links are its deps.
    repo, env, _ = tiny
    before = {path: (repo / path).read_bytes() for path in (REPORT_FILE, MODEL_CARD_FILE)}
    update_params(repo / "params.yaml", {"visualize": {"dpi": 60}})
    assert stages_run(dvc("repro", cwd=repo, env=env)) == ["visualize", "report"]
    assert before == {path: (repo / path).read_bytes() for path in before}


INPUTS = [path.as_posix() for path in (DATASET_METRICS, TRAIN_METRICS, TRAIN_SPEED, EVALUATE_METRICS, EVALUATE_SPEED,
                                        metric_file("val_accuracy"), metric_file("seconds"), PREDICTIONS_PLOT)] + [
    "plots/figures/loss.png"]


@pytest.mark.parametrize("name", INPUTS)
def test_missing_input_fails_with_one_line_naming_it(tiny, tmp_path, name):
    repo, env, _ = tiny
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git", ".dvc", "data"))
    (copy / name).unlink()
    result = run([sys.executable, "stages/report.py"], cwd=copy, env={**env, "PYTHONPATH": str(copy)}, check=False)
    assert result.returncode == 1
    assert re.fullmatch(rf"error: {re.escape(name)}: not found; run (`dvc repro` to produce it|the visualize stage "
                        r"\(dvc repro\))\n", result.stderr), result.stderr
    assert (copy / REPORT_FILE).read_bytes() == (repo / REPORT_FILE).read_bytes()


def test_malformed_metrics_file_fails_with_one_line(tiny, tmp_path):
    repo, env, _ = tiny
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git", ".dvc", "data"))
    (copy / EVALUATE_METRICS).write_text('{"test_accuracy": 0.5}\n')
    result = run([sys.executable, "stages/report.py"], cwd=copy, env={**env, "PYTHONPATH": str(copy)}, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {EVALUATE_METRICS}: test_loss, macro_precision")
    assert result.stderr.count("\n") == 1


def test_ensemble_run_saves_one_averaging_model_and_reports_it(ensemble_run):
    repo, _, _ = ensemble_run  # the tiny run reproduced after train.ensemble = 2, ensemble_split = "all" (conftest)
    train = read_json(repo, TRAIN_METRICS)
    # member 2 trained on the validation images too: no validation figure for it
    assert "val_accuracy" in train and "accuracy" in train["member2"] and "val_accuracy" not in train["member2"]
    assert train["val_accuracy"] == pytest.approx(history_of(repo)["val_accuracy"].iloc[-1], abs=1e-6)
    text = (repo / REPORT_FILE).read_text()
    assert "Layers of each of its 2 members (`member1` to `member2`" in text
    layers = table_rows(text, "## Architecture")
    assert 2 * sum(integer(cells[2]) for cells in layers.values()) == train["parameters"]
    card = (repo / MODEL_CARD_FILE).read_text()
    assert ("an ensemble that averages 2 such networks trained with consecutive seeds, the first on the train "
            "split and the others on all the training and validation images,") in card
    assert (repo / "plots/figures/filters.png").is_file()


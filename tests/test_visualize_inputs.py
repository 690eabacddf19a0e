"""The visualize stage's inputs beyond the prepared arrays: the per-epoch TSVs, plots/predictions.csv,
plots/reliability.csv and metrics/evaluate/metrics.json, and plots/figures where it writes. Each unusable one gives
exactly one line naming it, exit status 1, no hang and no change to any file.

The stage runs as `python -m stages.visualize` in a directory holding valid inputs but no model: every input is
checked before the model is loaded, so with all of them fine the stage stops at the missing model.
"""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from hostile import NOT_REGULAR_FILES
from mnist_pipeline.calibration import RELIABILITY_COLUMNS
from mnist_pipeline.data import save_split
from mnist_pipeline.files import write_json
from mnist_pipeline.paths import HISTORY_COLUMNS

CLASSES = [str(digit) for digit in range(10)]
TSV = "metrics/train/plots/metrics/loss.tsv"
PREDICTIONS = "plots/predictions.csv"
RELIABILITY = "plots/reliability.csv"
EVALUATION = "metrics/evaluate/metrics.json"
RERUN = "rerun the evaluate stage"
NO_MODEL = "models/model.keras: model file not found; run `dvc repro` to train one"


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A directory with the repository's params.yaml and valid visualize inputs for 20 test images, no model."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    (tmp_path / "params.yaml").write_bytes((ROOT / "params.yaml").read_bytes())
    rng = np.random.default_rng(0)
    save_split(tmp_path / "data/prepared", "test", rng.random((20, 28, 28, 1), dtype=np.float32),
               np.arange(20, dtype=np.uint8) % 10)
    for log, names in (("metrics/train", HISTORY_COLUMNS[1:-1]), ("metrics/train_speed", HISTORY_COLUMNS[-1:])):
        for name in names:
            path = tmp_path / log / "plots/metrics" / f"{name}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("step\t" + name + "\n1\t0.5\n2\t0.25\n")
    (tmp_path / "plots").mkdir()
    pd.DataFrame({"index": range(20), "actual": np.arange(20) % 10, "predicted": np.arange(20) % 10,
                  "confidence": 0.9}).to_csv(tmp_path / PREDICTIONS, index=False)
    pd.DataFrame([["before", 0.8, 0.9, 0.85, 0.8, 12], ["after", 0.8, 0.9, 0.86, 0.8, 12]],
                 columns=RELIABILITY_COLUMNS).to_csv(tmp_path / RELIABILITY, index=False)
    write_json(tmp_path / EVALUATION, {"per_class_accuracy": {name: 1.0 for name in CLASSES}, "test_ece": 0.01,
                                       "test_ece_calibrated": 0.005})
    return tmp_path


def digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def assert_fails(work, message, timeout=60):
    """`python -m stages.visualize` exits 1 with exactly `message` on stderr, in time, and changes no file."""
    before = digests(work)
    result = subprocess.run([sys.executable, "-m", "stages.visualize"], cwd=work, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL, timeout=timeout)
    assert (result.returncode, result.stderr) == (1, f"error: {message}\n")
    assert digests(work) == before


def test_valid_inputs_reach_the_model(work):
    assert_fails(work, NO_MODEL, timeout=300)  # after TensorFlow has loaded


@pytest.mark.parametrize("name", [TSV, PREDICTIONS, RELIABILITY, EVALUATION])
@pytest.mark.parametrize("make, problem", NOT_REGULAR_FILES + [
    (lambda p: None, "not found; run `dvc repro` to produce it"),
    (lambda p: p.write_bytes(b"step,\xff\xfe\n"), r"not valid UTF-8 (byte 5)"),
])
def test_unusable_input_file_is_named(work, name, make, problem):
    (work / name).unlink()
    make(work / name)
    assert_fails(work, f"{name}: {problem.replace(chr(92), '')}")


@pytest.mark.parametrize("name, content, problem", [
    (TSV, "step\tlos\n1\t0.5\n2\t0.25\n", "expected columns step, loss and one row per epoch; rerun the train stage"),
    (TSV, "step\tloss\n1\tlow\n2\t0.25\n", "expected columns step, loss and one row per epoch; rerun the train stage"),
    (TSV, "step\tloss\n", "rows missing; rerun the stage that writes it"),
    (PREDICTIONS, "index,actual,predicted\n0,1,1\n", "columns confidence missing; rerun the stage that writes it"),
    (PREDICTIONS, "index,actual,predicted,confidence\n0,1,x,0.5\n",
     "column predicted holds values that are not numbers; rerun the stage that writes it"),
    (PREDICTIONS, "index,actual,predicted,confidence\n0,1,10,0.5\n",
     f"column predicted holds values that are not integers in 0..9; {RERUN}"),
    (PREDICTIONS, "index,actual,predicted,confidence\n20,1,1,0.5\n",
     f"column index holds values that are not integers in 0..19; {RERUN}"),
    (PREDICTIONS, "index,actual,predicted,confidence\n0,1.5,1,0.5\n",
     f"column actual holds values that are not integers in 0..9; {RERUN}"),
    (PREDICTIONS, "index,actual,predicted,confidence\n0,1,1,1.5\n", f"column confidence holds values outside [0, 1]; {RERUN}"),
    (PREDICTIONS, 'index,actual\n"0,1\n', "cannot read it as CSV (Error tokenizing data. C error: EOF inside string "
                                          "starting at row 1)"),
    (RELIABILITY, "calibration,lower\nbefore,0\n",
     "columns upper, confidence, accuracy, count missing; rerun the stage that writes it"),
    (RELIABILITY, "calibration,lower,upper,confidence,accuracy,count\nbefore,0,0.1,0.05,x,3\n",
     "column accuracy holds values that are not numbers; rerun the stage that writes it"),
    (EVALUATION, "{\"per_class_accuracy\": ", "not valid JSON (Expecting value: line 1 column 24 (char 23))"),
    (EVALUATION, "[1, 2]", "expected a JSON object, not list; rerun the stage that writes it"),
    (EVALUATION, '{"test_ece": 0.1}', "per_class_accuracy, test_ece_calibrated missing; rerun the stage that writes it"),
    (EVALUATION, '{"per_class_accuracy": {"0": 1.0}, "test_ece": 0.1, "test_ece_calibrated": 0.1}',
     f"per_class_accuracy has no accuracy in [0, 1] for some of the classes {', '.join(CLASSES)}; {RERUN}"),
    (EVALUATION, '{"per_class_accuracy": {%s}, "test_ece": "low", "test_ece_calibrated": 0.1}'
     % ", ".join(f'"{name}": 1' for name in CLASSES), f"test_ece = 'low' is not a number; {RERUN}"),
])
def test_wrong_content_is_named(work, name, content, problem):
    (work / name).write_text(content)
    assert_fails(work, f"{name}: {problem}")


def test_a_file_where_the_figures_folder_belongs(work):
    (work / "plots/figures").write_text("not a folder")
    assert_fails(work, "plots/figures: is not a directory; cannot write outputs into it")

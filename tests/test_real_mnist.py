"""The real pipeline on the real MNIST files, with a short training: test accuracy must reach 98%."""
import json
import os

import pytest

from conftest import REAL_MNIST, ROOT, dvc, update_params
from mnist_pipeline.params import load_params

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"real MNIST files not found in {REAL_MNIST}")]


def test_short_real_run_reaches_98_percent(pipeline_copy):
    repo, env = pipeline_copy
    real_files = load_params("dataset.files", path=ROOT / "params.yaml").dataset.files.model_dump()
    update_params(repo / "params.yaml", {
        "dataset": {"files": real_files},
        "model": {"conv_blocks": [{"filters": 32, "convs": 1}, {"filters": 64, "convs": 1}], "dense_units": 128},
        "train": {"epochs": 2, "batch_size": 128, "warmup_epochs": 0}})
    env = {**env, "MNIST_MIRROR": str(REAL_MNIST)}
    dvc("repro", cwd=repo, env=env)
    counts = json.loads((repo / "metrics/dataset.json").read_text())
    assert (counts["train"]["total"], counts["val"]["total"], counts["test"]["total"]) == (48000, 12000, 10000)
    evaluation = json.loads((repo / "metrics/evaluate/metrics.json").read_text())
    assert evaluation["test_accuracy"] >= 0.98, evaluation
    assert len(os.listdir(repo / "plots/figures")) == 7


"""The real pipeline, up to its figures (visualize), on the real MNIST files, with a short training (the fast
recipe): test accuracy must reach 98%. The run is conftest's `real_mnist_run`, whose model the serve and browser
tests use."""
import json
import os

import pytest

from conftest import REAL_MNIST, REAL_MNIST_GROUP
from test_pipeline import FIGURES

pytestmark = [pytest.mark.slow, REAL_MNIST_GROUP,
              pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"real MNIST files not found in {REAL_MNIST}")]


def test_short_real_run_reaches_98_percent(real_mnist_run):
    repo, _, _ = real_mnist_run
    counts = json.loads((repo / "metrics/dataset.json").read_text())
    assert (counts["train"]["total"], counts["val"]["total"], counts["test"]["total"]) == (48000, 12000, 10000)
    evaluation = json.loads((repo / "metrics/evaluate/metrics.json").read_text())
    assert evaluation["test_accuracy"] >= 0.98, evaluation
    assert sorted(os.listdir(repo / "plots/figures")) == sorted(FIGURES)

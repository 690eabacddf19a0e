"""The training benchmark runs end to end on tiny generated data and reports every figure."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from mnist_pipeline.data import normalise, save_split
from synthetic import make_images

pytestmark = pytest.mark.slow


def test_benchmark_runs_all_recipes_on_tiny_data(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 320), ("val", 80), ("test", 100)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        save_split(tmp_path / "prepared", split, normalise(make_images(labels, seed=n)), labels)
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench/bench_training.py"), "--epochs", "1",
                             "--recipes", "reference", "default", "fast", "ensemble",
                             "--data-dir", str(tmp_path / "prepared"), "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())["results"]
    assert [r["recipe"] for r in rows] == ["reference", "default", "fast", "ensemble"]
    assert [r["networks"] for r in rows] == [1, 1, 1, 5]
    assert [r["test_time_shift_px"] for r in rows] == [0, 0, 0, 1]
    for row in rows:
        assert row["epochs"] == 1 and 0 <= row["test_accuracy"] <= 1
        assert len(row["test_accuracy_per_epoch"]) == row["networks"] and row["training_seconds"] > 0
        assert row["peak_memory_mib"] > 100  # TensorFlow alone takes hundreds of MiB
        assert row["vs_reference"]["training_seconds"] == pytest.approx(
            row["training_seconds"] / rows[0]["training_seconds"], rel=0.01)
    header = next(line for line in result.stdout.splitlines() if line.strip().startswith("recipe"))
    assert "s to 99.0%" in header and "acc / ref" in header

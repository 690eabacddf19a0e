"""The fetch_not_digits and not_a_digit stages on a tiny pipeline copy: what they write, and their one-line errors."""
import json

import pytest

from conftest import dvc, run
from mnist_pipeline.not_a_digit import METHODS, load_detector
from mnist_pipeline.negatives import KINDS


@pytest.mark.slow
def test_not_a_digit_stage_fits_on_train_and_validation_and_measures_every_set(pipeline_copy):
    repo, env = pipeline_copy
    dvc("repro", "not_a_digit", cwd=repo, env=env)
    metrics = json.loads((repo / "metrics/not_a_digit.json").read_text())
    sets = {"mnist_validation", "mnist_test", "fashion_mnist", *KINDS}
    assert set(metrics["rejected"]) == sets and metrics["pictures_per_kind"] == 10  # robustness.images
    assert set(metrics["by_method"]) == {*METHODS, "pieces_only"}
    assert all(set(rates) == sets and all(0 <= r <= 1 for r in rates.values())
               for rates in metrics["by_method"].values())
    # 120 validation images of the tiny data: the threshold at reject_rate 0.005 rejects at most one of them
    assert metrics["by_method"][metrics["method"]]["mnist_validation"] <= 1 / 120 + 1e-9
    assert metrics["rejected"]["three_digits"] >= 0.5  # several pieces side by side: rejected without any fit
    detector = load_detector(repo / "models/not_a_digit.json")
    assert detector["method"] == metrics["method"] and detector["threshold"] == pytest.approx(metrics["threshold"],
                                                                                             abs=1e-4)
    assert (repo / "plots/not_a_digit/examples.png").stat().st_size > 1000
    assert "not_a_digit" not in dvc("status", "not_a_digit", cwd=repo, env=env).stdout  # cached, up to date


def test_fetch_not_digits_without_any_source_says_so_in_one_line(pipeline_copy):
    repo, env = pipeline_copy
    result = run(["python", "-m", "stages.fetch_not_digits"], cwd=repo, env={**env, "FASHION_MNIST_MIRROR": ""},
                 check=False)
    assert result.returncode == 1 and not (repo / "data/not_digits/t10k-images-idx3-ubyte.gz").exists()
    assert result.stderr.startswith("error: could not fetch t10k-images-idx3-ubyte.gz from any source")
    assert result.stderr.count("\n") == 1

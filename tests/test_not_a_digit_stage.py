"""The fetch_not_digits and not_a_digit stages on a tiny pipeline run: what they write, how predict.py uses the
detector they fit, and their one-line errors."""
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import ROOT, TINY_RUN_GROUP, dvc, run
from mnist_pipeline.not_a_digit import METHODS, load_detector
from mnist_pipeline.negatives import KINDS
from stages.not_a_digit import METHOD, OTHER_REJECT_RATES
from test_not_a_digit_predict import verdict_from_figures


@pytest.mark.slow
@TINY_RUN_GROUP
def test_not_a_digit_stage_fits_on_train_and_validation_and_measures_every_set(reproduced_copy):
    repo, env = reproduced_copy
    metrics = json.loads((repo / "metrics/not_a_digit.json").read_text())
    sets = {"mnist_validation", "mnist_test", "fashion_mnist", *KINDS}
    assert set(metrics["rejected"]) == sets and metrics["pictures_per_kind"] == 10  # robustness.images
    assert set(metrics["by_method"]) == {*METHODS, "ink_checks_only"} and set(metrics["kind_left_out"]) == set(KINDS)
    assert all(set(rates) == sets and all(0 <= r <= 1 for r in rates.values())
               for rates in metrics["by_method"].values())
    # 120 validation images of the tiny data: the threshold at reject_rate 0.0035 rejects at most one of them
    assert metrics["by_method"][metrics["method"]]["mnist_validation"] <= 1 / 120 + 1e-9
    assert metrics["rejected"]["three_digits"] >= 0.5  # several pieces side by side: rejected without any fit
    at_rates = [metrics["at_other_reject_rates"][str(rate)] for rate in OTHER_REJECT_RATES]
    for name in sets:  # a threshold that rejects more validation digits rejects at least as much of every set
        assert [rates[name] for rates in at_rates] == sorted(rates[name] for rates in at_rates)
    detector = load_detector(repo / "models/not_a_digit.json")
    assert detector["method"] == metrics["method"] and detector["threshold"] == pytest.approx(metrics["threshold"],
                                                                                             abs=1e-4)
    assert (repo / "plots/not_a_digit/examples.png").stat().st_size > 1000
    assert "not_a_digit" not in dvc("status", "not_a_digit", cwd=repo, env=env).stdout  # cached, up to date


@pytest.mark.slow
@TINY_RUN_GROUP
def test_predict_py_scores_pictures_with_the_fitted_head(reproduced_copy, tmp_path):
    """predict.py, with the pipeline's own export and the head the stage fitted beside the model, gives each picture
    the head's score against its threshold, from the LiteRT export's features and activations."""
    repo, env = reproduced_copy
    detector = load_detector(repo / "models/not_a_digit.json")
    assert detector["method"] == METHOD == "outlier_exposure"
    rng = np.random.default_rng(0)
    pictures = [tmp_path / "disc.png", tmp_path / "noise.png"]
    disc = Image.new("L", (120, 120), 245)
    ImageDraw.Draw(disc).ellipse([25, 25, 95, 95], fill=20)
    disc.save(pictures[0])
    Image.fromarray(rng.integers(0, 256, (60, 60), dtype=np.uint8)).save(pictures[1])
    shutil.copy(ROOT / "predict.py", repo)  # run from the copy: it reads the copy's models/ and metrics/
    result = run([sys.executable, "predict.py", *map(str, pictures), "--format", "json"], cwd=repo, env=env)
    rows = json.loads(result.stdout)
    assert [row["file"] for row in rows] == list(map(str, pictures))
    scores_ = [row["not_a_digit_score"] for row in rows]
    assert len(set(scores_)) == 2 and all(np.isfinite(scores_)), rows  # the head's own score of each picture
    for row in rows:
        assert row["not_a_digit_threshold"] == round(detector["threshold"], 2)
        assert row["not_a_digit"] == verdict_from_figures(row), row


def test_fetch_not_digits_without_any_source_says_so_in_one_line(pipeline_copy):
    repo, env = pipeline_copy
    result = run(["python", "-m", "stages.fetch_not_digits"], cwd=repo, env={**env, "FASHION_MNIST_MIRROR": ""},
                 check=False)
    assert result.returncode == 1 and not (repo / "data/not_digits/t10k-images-idx3-ubyte.gz").exists()
    assert result.stderr.startswith("error: could not fetch t10k-images-idx3-ubyte.gz from any source")
    assert result.stderr.count("\n") == 1

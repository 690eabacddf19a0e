"""The not-a-digit scores, threshold, detector files and the digit-pieces check, on synthetic data."""
import json

import numpy as np
import pytest
from PIL import Image

from mnist_pipeline import negatives
from mnist_pipeline.not_a_digit import (DetectorFileError, fit_classes, load_detector, save_detector, scores,
                                        threshold)
from mnist_pipeline.predict.pieces import array_pieces, digit_pieces
from stages.not_a_digit import prepared_negatives


def clusters(rng, n, centres, spread=1.0):
    labels = rng.integers(0, len(centres), n)
    return centres[labels] + rng.normal(0, spread, (n, centres.shape[1])), labels


def test_threshold_rejects_the_asked_share_of_validation_scores():
    validation = np.random.default_rng(0).normal(size=20_000)
    for rate in (0.005, 0.05, 0.2):
        assert np.mean(validation > threshold(validation, rate)) == pytest.approx(rate, abs=0.001)


def test_mahalanobis_fitted_on_train_rejects_outliers_and_few_held_out_points():
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 6, (10, 16))
    train, train_labels = clusters(rng, 5000, centres)
    val, _ = clusters(rng, 4000, centres)
    held_out, _ = clusters(rng, 4000, centres)
    outliers = rng.normal(0, 6, (1000, 16)) + rng.choice([-1, 1], (1000, 16)) * 4  # far from every class
    means, precision = fit_classes(train, train_labels)
    assert np.allclose(means, centres, atol=0.2)

    def score(x):
        return scores("mahalanobis", x, None, None, means, precision)

    level = threshold(score(val), 0.01)
    assert np.mean(score(held_out) > level) < 0.02
    assert np.mean(score(outliers) > level) > 0.99


def test_softmax_and_energy_scores_rank_a_flat_output_above_a_confident_one():
    logits = np.array([[[12.0] + [0.0] * 9, [1.0] * 10]])  # (members, N, classes): confident, then flat
    probabilities = np.exp(logits[0]) / np.exp(logits[0]).sum(axis=1, keepdims=True)
    for method in ("msp", "energy"):
        confident, flat = scores(method, None, logits, probabilities)
        assert flat > confident, method
    with pytest.raises(ValueError, match="unknown method"):
        scores("entropy", None, logits, probabilities)


@pytest.fixture
def detector_files(tmp_path):
    rng = np.random.default_rng(2)
    save_detector(tmp_path, "mahalanobis", 42.5, 0.005, rng.normal(size=(10, 8)), np.eye(8), "ab" * 32)
    return tmp_path / "not_a_digit.json", tmp_path / "not_a_digit.npz"


def test_detector_files_round_trip(detector_files):
    detector = load_detector(detector_files[0])
    assert (detector["method"], detector["threshold"], detector["reject_rate"]) == ("mahalanobis", 42.5, 0.005)
    assert detector["model_sha256"] == "ab" * 32
    assert detector["means"].shape == (10, 8) and np.array_equal(detector["precision"], np.eye(8))


@pytest.mark.parametrize("damage, expected", [
    (lambda j, a: j.unlink(), "not found; run `dvc repro`"),
    (lambda j, a: a.unlink(), "not_a_digit.npz: not found"),
    (lambda j, a: j.write_text("{not json"), "not a not-a-digit detector (JSONDecodeError"),
    (lambda j, a: j.write_text(json.dumps({"method": "guess", "threshold": 1, "arrays": a.name, "model_sha256": ""})),
     "'guess'"),
    (lambda j, a: j.write_text(json.dumps({"method": "msp", "threshold": 1, "arrays": a.name})),
     "KeyError: 'model_sha256'"),
    (lambda j, a: j.write_text("[1, 2]"), "not a not-a-digit detector"),
    (lambda j, a: a.write_bytes(b"PK\x03\x04 not a zip"), "not a not-a-digit detector"),
    (lambda j, a: np.savez(a, means=np.zeros((10, 8)), precision=np.eye(3)), "do not fit"),
    (lambda j, a: np.savez(a, means=np.zeros((10, 8))), "KeyError"),
])
def test_bad_detector_files_give_one_line(detector_files, damage, expected):
    damage(*detector_files)
    with pytest.raises(DetectorFileError) as caught:
        load_detector(detector_files[0])
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_pieces_count_digits_side_by_side_but_not_the_parts_of_one():
    bar = np.zeros((28, 28), np.float32)
    bar[4:24, 12:16] = 1
    assert array_pieces(bar) == 1
    two = bar.copy()
    two[4:24, 20:24] = 1
    assert array_pieces(two) == 2
    five_top = bar.copy()
    five_top[2:5, 10:22] = 1  # a separate bar above the stroke, as a 5 is often written
    assert array_pieces(five_top) == 1
    assert array_pieces(np.zeros((28, 28))) == 0


def test_pictures_of_several_mnist_digits_mostly_have_that_many_pieces_and_one_digit_one(digits):
    images, _ = digits
    rng = np.random.default_rng(3)
    for kind, count in (("two_digits", 2), ("three_digits", 3)):
        found = [digit_pieces(p) for p in negatives.render(kind, 10, rng, images)]
        assert sum(n == count for n in found) >= 8, (kind, found)  # touching or broken digits merge or split
    singles = [digit_pieces(Image.fromarray(255 - image)) for image in images[:30]]
    assert sum(n == 1 for n in singles) >= 29, singles


def test_every_kind_of_negative_renders_and_is_prepared(digits):
    for kind in negatives.KINDS:
        inputs, pieces, blank = prepared_negatives(kind, 3, np.random.default_rng(4), digits[0])
        assert inputs.shape == (3, 28, 28) and inputs.dtype == np.float32, kind
        assert np.all((inputs.max(axis=(1, 2)) > 0) | blank), kind
        assert 0 <= inputs.min() and inputs.max() <= 1, kind


def test_the_report_has_a_not_a_digit_section_with_every_score():
    from mnist_pipeline.report.render import render_report
    from test_report_render import made_up_run
    report = render_report(made_up_run())
    section = report[report.index("## Not a digit"):report.index("## Overfitting check")]
    assert "| pictures | msp | **mahalanobis** (used) |" in section
    assert "| fashion_mnist | 17.00% | 78.70% |" in section and "0.40% of the MNIST test digits" in section
    assert "](../plots/not_a_digit/examples.png)" in section

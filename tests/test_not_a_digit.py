"""The not-a-digit scores, threshold, detector files and the ink checks (digit pieces, stroke spread), on synthetic
data and real MNIST digits."""
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_pipeline import clutter, negatives
from mnist_pipeline.not_a_digit import (DetectorFileError, fit_classes, head_inputs, load_detector, save_detector,
                                        scores, threshold)
from mnist_pipeline.not_a_digit_head import fit_head
from mnist_pipeline.predict import styles
from mnist_pipeline.predict.pieces import InkChecks, digit_pieces, prepare_with_checks, side_by_side
from mnist_pipeline.predict.rejection import verdicts
from mnist_pipeline.predict.strokes import MAX_STROKE_SPREAD, stroke_spread
from stages.not_a_digit import prepared_negatives
from test_not_a_digit_predict import t_shirt


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
        return scores("mahalanobis", x, None, None, None, {"means": means, "precision": precision})

    level = threshold(score(val), 0.01)
    assert np.mean(score(held_out) > level) < 0.02
    assert np.mean(score(outliers) > level) > 0.99


def test_softmax_and_energy_scores_rank_a_flat_output_above_a_confident_one():
    logits = np.array([[[12.0] + [0.0] * 9, [1.0] * 10]])  # (members, N, classes): confident, then flat
    probabilities = np.exp(logits[0]) / np.exp(logits[0]).sum(axis=1, keepdims=True)
    for method in ("msp", "energy"):
        confident, flat = scores(method, None, logits, probabilities, None)
        assert flat > confident, method
    with pytest.raises(ValueError, match="unknown method"):
        scores("entropy", None, logits, probabilities, None)


def model_outputs(features, centres):
    """(features, logits (1, N, C), probabilities, activations (N, 2)) of a made-up model whose logits are -distance
    to each centre and whose activations are noise."""
    logits = -np.linalg.norm(features[:, None] - centres[None], axis=2)[None]
    probabilities = np.exp(logits[0]) / np.exp(logits[0]).sum(axis=1, keepdims=True)
    return features, logits, probabilities, np.random.default_rng(len(features)).normal(size=(len(features), 2))


def test_the_outlier_exposure_head_learns_non_digits_the_distance_alone_misses():
    """Digits in 10 clusters; non-digits packed close to a class mean (too typical: the Mahalanobis distance ranks
    them as the most digit-like). Fitted on two spreads of them, the head rejects fresh ones of a third spread at
    a threshold that rejects 1% of the validation digits, and at most 2% of held-out digits."""
    rng = np.random.default_rng(6)
    centres = rng.normal(0, 3, (10, 12))

    def digits(n):
        x, labels = clusters(rng, n, centres)
        return model_outputs(x, centres), labels

    def others(n, spread):
        return model_outputs(centres[rng.integers(0, 10, n)] + rng.normal(0, spread, (n, 12)), centres)

    (train, labels), (val, _), (held_out, _) = digits(4000), digits(3000), digits(3000)
    arrays = dict(zip(("means", "precision"), fit_classes(train[0], labels)))
    seen = np.concatenate([head_inputs(*others(1000, spread), arrays) for spread in (0.25, 0.4)])
    arrays.update(fit_head(head_inputs(*train, arrays), seen, np.random.default_rng(0), hidden=8, iterations=200))
    fresh = others(500, 0.32)
    caught = {}
    for method in ("outlier_exposure", "mahalanobis"):
        level = threshold(scores(method, *val, arrays), 0.01)
        assert np.mean(scores(method, *held_out, arrays) > level) < 0.02, method
        caught[method] = np.mean(scores(method, *fresh, arrays) > level)
    assert caught["outlier_exposure"] >= 0.95 and caught["mahalanobis"] <= 0.05, caught


def test_the_head_fit_is_deterministic_by_its_generator():
    rng = np.random.default_rng(7)
    digits, others = rng.normal(0, 1, (300, 5)), rng.normal(2, 1, (100, 5))
    first, second = (fit_head(digits, others, np.random.default_rng(1), hidden=4, iterations=50) for _ in range(2))
    assert first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)


def test_clutter_is_seeded_varied_and_in_the_model_input_range(digits):
    images = digits[0]
    first = clutter.clutter(44, np.random.default_rng(8), images)
    assert first.shape == (44, 28, 28) and first.dtype == np.float32
    assert np.array_equal(first, clutter.clutter(44, np.random.default_rng(8), images))
    assert 0 <= first.min() and first.max() <= 1 and np.all(first.max(axis=(1, 2)) > 0)
    assert len({picture.tobytes() for picture in first}) == 44
    framed = clutter.framed(clutter.strokes(np.random.default_rng(9), images))
    rows, cols = np.nonzero(framed)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 == 20  # its ink fitted into MNIST's 20 px box, as predict frames it


def detector_arrays(width=8, head_width=10, hidden=4):
    """A detector's arrays: class means (10, width), precision, and a head on head_width + 3 inputs (head_width: the
    features and activations)."""
    rng = np.random.default_rng(2)
    return {"means": rng.normal(size=(10, width)), "precision": np.eye(width), "shift": np.zeros(head_width + 3),
            "scale": np.ones(head_width + 3), "hidden_weights": rng.normal(size=(head_width + 3, hidden)),
            "hidden_bias": np.zeros(hidden), "output_weights": rng.normal(size=hidden), "output_bias": np.zeros(())}


@pytest.fixture
def detector_files(tmp_path):
    save_detector(tmp_path, "outlier_exposure", 42.5, 0.005, detector_arrays(), "ab" * 32)
    return tmp_path / "not_a_digit.json", tmp_path / "not_a_digit.npz"


def test_detector_files_round_trip(detector_files):
    detector = load_detector(detector_files[0])
    assert (detector["method"], detector["threshold"], detector["reject_rate"]) == ("outlier_exposure", 42.5, 0.005)
    assert detector["model_sha256"] == "ab" * 32
    arrays = detector["arrays"]
    assert arrays["means"].shape == (10, 8) and np.array_equal(arrays["precision"], np.eye(8))
    assert arrays["hidden_weights"].shape == (13, 4) and arrays["output_bias"].shape == ()
    features, activations = np.random.default_rng(3).normal(size=(5, 8)), np.ones((5, 2))
    logits = features[None, :, :2] * [1, -1]
    probabilities = np.exp(logits[0]) / np.exp(logits[0]).sum(axis=1, keepdims=True)
    assert scores("outlier_exposure", features, logits, probabilities, activations, arrays).shape == (5,)


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
    (lambda j, a: np.savez(a, **{**detector_arrays(), "precision": np.eye(3)}), "['precision'] do not fit"),
    (lambda j, a: np.savez(a, **detector_arrays(head_width=6)), "['shift'] do not fit"),  # fewer than F + 3 inputs
    (lambda j, a: np.savez(a, **{**detector_arrays(), "scale": np.ones(5)}), "['scale'] do not fit"),
    (lambda j, a: np.savez(a, means=np.zeros((10, 8)), precision=np.eye(8)), "KeyError: 'shift"),
])
def test_bad_detector_files_give_one_line(detector_files, damage, expected):
    damage(*detector_files)
    with pytest.raises(DetectorFileError) as caught:
        load_detector(detector_files[0])
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_pieces_count_digits_side_by_side_but_not_the_parts_of_one():
    def pieces(image):
        return side_by_side(image >= 0.5, image)

    bar = np.zeros((28, 28), np.float32)
    bar[4:24, 12:16] = 1
    assert pieces(bar) == 1
    two = bar.copy()
    two[4:24, 20:24] = 1
    assert pieces(two) == 2
    five_top = bar.copy()
    five_top[2:5, 10:22] = 1  # a separate bar above the stroke, as a 5 is often written
    assert pieces(five_top) == 1
    assert pieces(np.zeros((28, 28))) == 0


def test_pictures_of_several_mnist_digits_mostly_have_that_many_pieces_and_one_digit_one(digits):
    images, _ = digits
    rng = np.random.default_rng(3)
    for kind, count in (("two_digits", 2), ("three_digits", 3)):
        found = [digit_pieces(p) for p in negatives.render(kind, 10, rng, images)]
        assert sum(n == count for n in found) >= 8, (kind, found)  # touching or broken digits merge or split
    singles = [digit_pieces(Image.fromarray(255 - image)) for image in images[:30]]
    assert sum(n == 1 for n in singles) >= 29, singles


def test_stroke_spread_is_low_for_pen_strokes_and_high_for_a_silhouette():
    yy, xx = np.mgrid[:80, :80] - 39.5
    ring = np.abs(np.hypot(yy, xx) - 28) < 6  # a bold 0: the same width all round
    assert stroke_spread(ring) < 1.5
    zigzag = Image.new("1", (80, 80), 0)  # a bitmap: numpy reads its ink as booleans stored as 255
    ImageDraw.Draw(zigzag).line([(5, 5), (75, 20), (5, 40), (75, 75)], fill=1, width=9)  # a bold Z
    assert stroke_spread(np.array(zigzag)) < 2
    shirt = Image.new("L", (80, 80), 0)
    draw = ImageDraw.Draw(shirt)  # a T-shirt: a body 27 px wide, sleeves 6 px wide
    draw.rectangle([27, 10, 53, 79], fill=255)
    draw.line([(27, 12), (5, 40)], fill=255, width=6)
    draw.line([(53, 12), (75, 40)], fill=255, width=6)
    assert stroke_spread(np.array(shirt) > 0) > MAX_STROKE_SPREAD
    dot = np.zeros((80, 80), bool)
    dot[40, 40] = True
    assert stroke_spread(dot) == 1.0


def test_real_digits_in_pen_and_marker_pass_the_ink_checks_and_a_t_shirt_does_not(digits):
    """Digits drawn with any pen, thin or bold, close-cropped or not, keep their stroke width; a T-shirt's body is
    far wider than its sleeves."""
    images, _ = digits
    rng = np.random.default_rng(6)
    names = ("mnist_28x28", "paper_photo", "thick_marker", "tight_bold", "tight_bold_binary", "chalkboard")
    for style in [s for s in styles.STYLES if s.name in names]:
        checks = [prepare_with_checks(style.render(image, rng))[1] for image in images[:25]]
        assert max(check.stroke_spread for check in checks) <= MAX_STROKE_SPREAD, (style.name, checks)
    shirt = prepare_with_checks(t_shirt(8))[1]
    assert shirt == InkChecks(pieces=1, stroke_spread=pytest.approx(4.4, abs=0.3)) and shirt.not_one_digit
    assert not InkChecks(1, MAX_STROKE_SPREAD).not_one_digit and InkChecks(2, 1.0).not_one_digit


def test_verdicts_flag_a_score_over_the_threshold_or_either_ink_check_and_report_both_figures():
    probabilities = np.array([[0.95] + [0.005] * 9, [0.95] + [0.005] * 9, [0.95] + [0.005] * 9, [0.5] * 10])
    detector = {"method": "msp", "threshold": 0.2, "arrays": {}}
    checks = [InkChecks(1, 1.3), InkChecks(1, 5.0), InkChecks(2, 1.1), InkChecks(1, 1.2)]
    judged = verdicts(detector, (None, None, probabilities), checks)
    assert [row["not_a_digit"] for row in judged] == [False, True, True, True]
    assert [(row["digit_pieces"], row["stroke_spread"]) for row in judged] == [(1, 1.3), (1, 5.0), (2, 1.1), (1, 1.2)]
    unchecked = verdicts(None, None, checks)
    assert [row["not_a_digit"] for row in unchecked] == [None] * 4
    assert [row["stroke_spread"] for row in unchecked] == [1.3, 5.0, 1.1, 1.2]


def test_every_kind_of_negative_renders_and_is_prepared(digits):
    for kind in negatives.KINDS:
        inputs, not_one, blank = prepared_negatives(kind, 3, np.random.default_rng(4), digits[0])
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

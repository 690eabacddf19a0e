"""mnist_pipeline/calibration.py: ECE on hand-computed cases, the temperature and its fit, and calibration.json's
checks (one-line errors; which model file it belongs to). NumPy and SciPy only: no TensorFlow."""
import json
import math

import numpy as np
import pytest

from mnist_pipeline.calibration import (CALIBRATION_NAME, CalibrationError, apply_temperature, calibration_errors,
                                        calibration_record, expected_calibration_error, file_sha256, fit_temperature,
                                        model_calibration, negative_log_likelihood, read_calibration, reliability_bins)
from mnist_pipeline.files import InputError


def test_ece_of_hand_computed_cases():
    # 10 bins: two answers at 0.95 (one right) and two at 0.55 (both right): |0.5 - 0.95| / 2 + |1 - 0.55| / 2
    assert expected_calibration_error([0.95, 0.95, 0.55, 0.55], [1, 0, 1, 1], 10) == pytest.approx(0.45)
    # calibrated: 3 of 4 right at 0.75, 1 of 2 right at 0.5 (0.5 lies in the bin (0.4, 0.5], not (0.5, 0.6])
    assert expected_calibration_error([0.75] * 4 + [0.5] * 2, [1, 1, 1, 0, 1, 0], 10) == pytest.approx(0.0)
    # one bin (0.5, 1]: mean confidence 0.8, accuracy 0.5
    assert expected_calibration_error([0.6, 1.0], [0, 1], 2) == pytest.approx(0.3)
    # weights by images: 3 of 4 answers at 0.9 all right (gap 0.1), one at 0.3 right (gap 0.7): 0.1 * 3/4 + 0.7 / 4
    assert expected_calibration_error([0.9, 0.9, 0.9, 0.3], [1, 1, 1, 1], 15) == pytest.approx(0.25)


def test_reliability_bins_are_the_non_empty_equal_width_bins():
    rows = reliability_bins([0.95, 0.95, 0.55, 1.0, 0.2], [1, 0, 1, 1, 0], 5)
    assert [(row["lower"], row["upper"], row["count"]) for row in rows] == [(0.0, 0.2, 1), (0.4, 0.6, 1),
                                                                           (0.8, 1.0, 3)]
    assert rows[2]["confidence"] == pytest.approx((0.95 + 0.95 + 1.0) / 3)
    assert rows[2]["accuracy"] == pytest.approx(2 / 3)


def test_calibration_errors_use_the_top_probability_and_the_argmax():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    ece, rows = calibration_errors(probabilities, [0, 1, 1], 10)
    # 0.7 right, 0.6 wrong (argmax 2, label 1), 0.5 right: three bins, gaps 0.3, 0.6, 0.5
    assert ece == pytest.approx((0.3 + 0.6 + 0.5) / 3)
    assert [row["count"] for row in rows] == [1, 1, 1]


def synthetic(temperature, n=20000, classes=10, seed=0):
    """(probabilities made over-confident by `temperature`, labels drawn from the true probabilities)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, classes))
    true = np.exp(logits - logits.max(axis=1, keepdims=True))
    true /= true.sum(axis=1, keepdims=True)
    labels = (true.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return apply_temperature(true, 1 / temperature), labels


def test_apply_temperature_is_softmax_of_log_p_over_t_and_keeps_the_argmax():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]])
    softened = apply_temperature(probabilities, 2.0)
    expected = np.sqrt(probabilities) / np.sqrt(probabilities).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softened, expected, rtol=1e-12)
    assert (softened.argmax(axis=1) == probabilities.argmax(axis=1)).all()
    assert (apply_temperature(probabilities, 0.5).max(axis=1) > probabilities.max(axis=1)).all()
    assert apply_temperature(probabilities, 1) is probabilities
    np.testing.assert_allclose(apply_temperature([[1.0, 0.0]], 3.0), [[1.0, 0.0]], atol=1e-99)  # a zero stays ~zero


@pytest.mark.parametrize("true_temperature", [0.5, 2.0])
def test_the_fit_recovers_a_known_temperature_and_lowers_nll_and_ece(true_temperature):
    probabilities, labels = synthetic(true_temperature)
    fitted = fit_temperature(probabilities, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    assert negative_log_likelihood(probabilities, labels, fitted) < negative_log_likelihood(probabilities, labels)
    calibrated = apply_temperature(probabilities, fitted)
    assert calibration_errors(calibrated, labels, 15)[0] < calibration_errors(probabilities, labels, 15)[0] / 3


def test_calibration_record_holds_the_fit_and_the_model_file_hash(tmp_path):
    model_file = tmp_path / "model.keras"
    model_file.write_bytes(b"not really a model")
    probabilities, labels = synthetic(2.0, n=5000)
    record = calibration_record(model_file, probabilities, labels, 15, 0.8)
    assert record["temperature"] == pytest.approx(fit_temperature(probabilities, labels), abs=1e-6)
    assert record["model_sha256"] == file_sha256(model_file) and len(record["model_sha256"]) == 64
    assert record["validation_ece_after"] < record["validation_ece_before"]
    assert record["validation_nll_after"] < record["validation_nll_before"]
    assert sum(row["count"] for row in record["validation_bins"]["after"]) == 5000
    json.dumps(record)  # plain JSON types only


@pytest.fixture
def model_and_calibration(tmp_path):
    """(a model file, the path of its calibration.json, a valid calibration of it) in tmp_path."""
    model_file = tmp_path / "model.keras"
    model_file.write_bytes(b"the model's bytes")
    valid = {"temperature": 0.5, "unsure_below": 0.8, "model_sha256": file_sha256(model_file), "bins": 15,
             "validation_ece_before": 0.04, "validation_ece_after": 0.002}
    return model_file, tmp_path / CALIBRATION_NAME, valid


BAD_CALIBRATIONS = {
    "not JSON": ("{temperature: 2", "not JSON"),
    "not UTF-8": (b"\xff\xfe{}", "not JSON"),
    "a list": ("[1, 2]", "holds a JSON list; expected an object with temperature"),
    "keys missing": ('{"temperature": 2}', "unsure_below, model_sha256, bins, validation_ece_before, "
                                          "validation_ece_after missing; run the calibrate stage"),
    "temperature zero": ({"temperature": 0}, "temperature 0 is not a positive finite number"),
    "temperature negative": ({"temperature": -1.5}, "temperature -1.5 is not a positive finite number"),
    "temperature NaN": ({"temperature": math.nan}, "temperature nan is not a positive finite number"),
    "temperature infinite": ({"temperature": math.inf}, "temperature inf is not a positive finite number"),
    "temperature text": ({"temperature": "1.5"}, "temperature '1.5' is not a positive finite number"),
    "temperature boolean": ({"temperature": True}, "temperature True is not a positive finite number"),
    "unsure_below above 1": ({"unsure_below": 1.5}, "unsure_below 1.5 is not a number in [0, 1]"),
    "hash not hex": ({"model_sha256": "abc"}, "model_sha256 'abc' is not 64 lowercase hex digits"),
}


@pytest.mark.parametrize("case", BAD_CALIBRATIONS)
def test_a_bad_calibration_file_is_one_line_naming_it(model_and_calibration, case):
    model_file, path, valid = model_and_calibration
    content, expected = BAD_CALIBRATIONS[case]
    if isinstance(content, dict):
        content = json.dumps({**valid, **content})
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for read in (lambda: read_calibration(path), lambda: model_calibration(model_file, lambda: 0.8)):
        with pytest.raises(CalibrationError) as caught:
            read()
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_a_missing_or_empty_calibration_file_is_one_line(model_and_calibration):
    model_file, path, _ = model_and_calibration
    with pytest.raises(InputError, match="calibration.json: not found; run the calibrate stage"):
        read_calibration(path)
    path.write_text("")
    with pytest.raises(InputError, match="calibration.json: is empty"):
        read_calibration(path)


def test_a_stage_refuses_a_calibration_of_another_model_file(model_and_calibration):
    model_file, path, valid = model_and_calibration
    path.write_text(json.dumps(valid))
    assert read_calibration(path, model_file)["temperature"] == 0.5
    model_file.write_bytes(b"retrained")
    with pytest.raises(CalibrationError, match="fitted for another model file than .*model.keras; run the calibrate"):
        read_calibration(path, model_file)


def test_model_calibration_beside_the_model_or_uncalibrated(model_and_calibration):
    model_file, path, valid = model_and_calibration
    fallback_calls = []

    def fallback():
        fallback_calls.append(1)
        return 0.6

    without = model_calibration(model_file, fallback)
    assert without[:3] == (1.0, 0.6, False) and f"no {CALIBRATION_NAME} beside" in without.note

    path.write_text(json.dumps(valid))
    fallback_calls.clear()
    calibrated = model_calibration(model_file, fallback)
    assert calibrated[:3] == (0.5, 0.8, True) and "temperature 0.500" in calibrated.note and not fallback_calls

    model_file.write_bytes(b"another model")
    other = model_calibration(model_file, fallback)
    assert other[:3] == (1.0, 0.6, False) and "fitted for another model file" in other.note

"""Calibrated confidence: the expected calibration error (ECE), one temperature fitted on validation digits, and
the file models/calibration.json that keeps it beside the model.

The model outputs probabilities p; taking log p as its logits, a temperature T gives softmax(log p / T): T > 1
softens over-confident answers, T < 1 sharpens timid ones, and the predicted digit never changes. The calibrate
stage fits T on the validation split (never the test split) by minimising the negative log-likelihood and writes
CALIBRATION_FILE with `calibration_record`; the evaluate stage, predict.py and the demo server read it back with
`read_calibration` / `model_calibration`. ECE uses equal-width bins of the top probability: the sum over bins of
|accuracy - mean confidence| x (images in the bin) / (all images).
"""
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize_scalar

from mnist_pipeline.files import open_input
from mnist_pipeline.stage import PipelineError

CALIBRATION_NAME = "calibration.json"  # beside the model file it was fitted for
CALIBRATION_FILE = Path("models") / CALIBRATION_NAME
RELIABILITY_PLOT = Path("plots/reliability.csv")  # the evaluate stage's reliability diagram data (test split)
RELIABILITY_COLUMNS = ("calibration", "lower", "upper", "confidence", "accuracy", "count")
REQUIRED_KEYS = ("temperature", "unsure_below", "model_sha256", "bins", "validation_ece_before",
                 "validation_ece_after")
LOG_T_BOUNDS = (-4.0, 4.0)  # the fitted temperature lies in [e^-4, e^4] = [0.018, 54.6]
MISSING_HINT = "run the calibrate stage (dvc repro)"


class CalibrationError(PipelineError, ValueError):
    """A calibration file is not JSON, lacks a key, holds an unusable value or belongs to another model."""


class Calibration(NamedTuple):
    """What predict.py and the demo server need: the temperature, the unsure level, and whether it is calibrated."""
    temperature: float
    unsure_below: float
    calibrated: bool
    note: str  # one line saying where the temperature comes from, or why there is none


def bin_edges(bins):
    """The bins + 1 edges of equal-width confidence bins over [0, 1]."""
    return np.linspace(0.0, 1.0, bins + 1)


def reliability_bins(confidence, correct, bins):
    """One dict per non-empty bin (lower, upper], in order: lower, upper, confidence (mean), accuracy, count."""
    confidence, correct = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=bool)
    edges = bin_edges(bins)
    index = np.digitize(confidence, edges[1:-1], right=True)  # bin i holds edges[i] < c <= edges[i + 1]
    rows = []
    for i in np.unique(index):
        members = index == i
        rows.append({"lower": round(float(edges[i]), 6), "upper": round(float(edges[i + 1]), 6),
                     "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean()),
                     "count": int(members.sum())})
    return rows


def expected_calibration_error(confidence, correct, bins):
    """ECE of answers with these top probabilities (`confidence`) and right/wrong flags (`correct`)."""
    rows = reliability_bins(confidence, correct, bins)
    total = sum(row["count"] for row in rows)
    return float(sum(abs(row["accuracy"] - row["confidence"]) * row["count"] for row in rows) / total)


def calibration_errors(probabilities, labels, bins):
    """(ECE, reliability bins) of (N, classes) probabilities against integer labels."""
    probabilities = np.asarray(probabilities)
    confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == np.asarray(labels)
    return expected_calibration_error(confidence, correct, bins), reliability_bins(confidence, correct, bins)


def _log_softmax(probabilities, temperature):
    logits = np.log(np.maximum(np.asarray(probabilities, dtype=np.float64), np.finfo(np.float64).tiny)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def apply_temperature(probabilities, temperature):
    """softmax(log p / temperature) of (N, classes) probabilities; temperature 1 returns them unchanged."""
    if temperature == 1:
        return np.asarray(probabilities)
    return np.exp(_log_softmax(probabilities, temperature))


def negative_log_likelihood(probabilities, labels, temperature=1.0):
    """Mean -log of the labels' probabilities after `temperature`."""
    log_p = _log_softmax(probabilities, temperature)
    return float(-log_p[np.arange(len(log_p)), np.asarray(labels)].mean())


def fit_temperature(probabilities, labels):
    """The temperature that minimises the negative log-likelihood of `labels` (searched on log T)."""
    fit = minimize_scalar(lambda log_t: negative_log_likelihood(probabilities, labels, math.exp(log_t)),
                          bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return math.exp(fit.x)


def file_sha256(path):
    """SHA-256 (hex) of a file's bytes: which model file a calibration belongs to."""
    digest = hashlib.sha256()
    with open_input(path) as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def calibration_record(model_file, probabilities, labels, bins, unsure_below):
    """The content of models/calibration.json for `model_file`, fitted on its validation `probabilities`."""
    temperature = fit_temperature(probabilities, labels)
    calibrated = apply_temperature(probabilities, temperature)
    before, bins_before = calibration_errors(probabilities, labels, bins)
    after, bins_after = calibration_errors(calibrated, labels, bins)
    return {"temperature": round(temperature, 6), "unsure_below": unsure_below, "bins": bins,
            "model_sha256": file_sha256(model_file), "fitted_on": "validation split", "validation_images": len(labels),
            "validation_ece_before": round(before, 6), "validation_ece_after": round(after, 6),
            "validation_nll_before": round(negative_log_likelihood(probabilities, labels), 6),
            "validation_nll_after": round(negative_log_likelihood(probabilities, labels, temperature), 6),
            "validation_bins": {"before": bins_before, "after": bins_after}}


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_calibration(path, model_file=None):
    """The checked content of a calibration file; with `model_file`, it must have been fitted for that file."""
    with open_input(path, MISSING_HINT) as file:
        try:
            data = json.loads(file.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise CalibrationError(f"{path}: not JSON ({str(err).splitlines()[0]}); {MISSING_HINT}") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: holds a JSON {type(data).__name__}; expected an object with "
                               f"{', '.join(REQUIRED_KEYS)}")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise CalibrationError(f"{path}: {', '.join(missing)} missing; {MISSING_HINT}")
    if not _number(data["temperature"]) or data["temperature"] <= 0:
        raise CalibrationError(f"{path}: temperature {data['temperature']!r} is not a positive finite number")
    if not _number(data["unsure_below"]) or not 0 <= data["unsure_below"] <= 1:
        raise CalibrationError(f"{path}: unsure_below {data['unsure_below']!r} is not a number in [0, 1]")
    if not isinstance(data["model_sha256"], str) or not re.fullmatch("[0-9a-f]{64}", data["model_sha256"]):
        raise CalibrationError(f"{path}: model_sha256 {data['model_sha256']!r} is not 64 lowercase hex digits")
    if model_file is not None and data["model_sha256"] != file_sha256(model_file):
        raise CalibrationError(f"{path}: fitted for another model file than {model_file}; {MISSING_HINT}")
    return data


def model_calibration(model_file, fallback_unsure_below):
    """The Calibration for predictions of `model_file`, from calibration.json beside it. Without that file, or
    when it was fitted for another model file, temperature 1 ("uncalibrated") and fallback_unsure_below() (a
    callable: read only then); a damaged file raises CalibrationError (or files.InputError)."""
    model_file = Path(model_file)
    path = model_file.parent / CALIBRATION_NAME
    if not os.path.lexists(path):
        return Calibration(1.0, fallback_unsure_below(), False,
                           f"uncalibrated: no {CALIBRATION_NAME} beside {model_file}")
    data = read_calibration(path)
    if data["model_sha256"] != file_sha256(model_file):
        return Calibration(1.0, fallback_unsure_below(), False,
                           f"uncalibrated: {path} was fitted for another model file")
    return Calibration(float(data["temperature"]), float(data["unsure_below"]), True,
                       f"calibrated: temperature {data['temperature']:.3f} fitted on validation digits ({path})")

"""Says when a 28x28 input is probably not a digit: scores from the model's own outputs and activations.

Each score grows the less an input looks like the training digits: `msp` is 1 - the top softmax
probability, `energy` is -logsumexp of the logits (Liu et al., 2020), `mahalanobis` is the smallest
squared Mahalanobis distance of the penultimate-layer features to a class mean, under one covariance
shared by the classes (Lee et al., 2018), both fitted on the train split; `outlier_exposure` is the
log-odds of a small network (the head) fitted to tell digits from generated non-digits
(not_a_digit_head.py fits it) on `head_inputs`: the features, the activations (mean and maximum of each
convolution block's channels, and statistics of the input's pixels), the log Mahalanobis distance, the top
probability and the energy. `outputs(model, images)` gives the features, logits, probabilities and activations
(of every member, side by side, for an ensemble) through export.inference_model, the same outputs the LiteRT
export gives; `fit_classes` the class means and the shared precision matrix; `threshold` the score level that
rejects a given share of validation digits. `save_detector` / `load_detector` write and read the detector beside
the model: DETECTOR_JSON (method, threshold, reject rate, the model file's SHA-256) and DETECTOR_ARRAYS (.npz:
class means, precision and, for `outlier_exposure`, HEAD_ARRAYS); a missing or malformed file gives
DetectorFileError, one line.
"""
import functools
import json
import zipfile
from pathlib import Path

import numpy as np

from mnist_pipeline.files import InputError, atomic_path, open_input, write_json
from mnist_pipeline.stage import PipelineError

DETECTOR_JSON = Path("models/not_a_digit.json")
DETECTOR_ARRAYS = Path("models/not_a_digit.npz")
NOT_A_DIGIT_METRICS = Path("metrics/not_a_digit.json")  # the not_a_digit stage's measurements
NOT_A_DIGIT_FIGURE = Path("plots/not_a_digit/examples.png")
METHODS = ("msp", "energy", "mahalanobis", "outlier_exposure")
HEAD_ARRAYS = ("shift", "scale", "hidden_weights", "hidden_bias", "output_weights", "output_bias")
RIDGE = 1e-3  # added to the covariance's diagonal (relative to its mean variance): dead ReLU units
BATCH_SIZE = 500


class DetectorFileError(PipelineError, ValueError):
    """The not-a-digit detector files are missing, malformed or do not fit the model."""


@functools.lru_cache(maxsize=2)
def _inference_model(model):
    """export.inference_model of a Keras model, built once per model (a stage scores several sets)."""
    from mnist_pipeline.export import inference_model
    return inference_model(model)


def outputs(model, images, batch_size=BATCH_SIZE):
    """(features (N, F), logits (members, N, 10), probabilities (N, 10), activations (N, A)) of (N, 28, 28[, 1])
    images through the Keras model's inference model; see batched_outputs."""
    return batched_outputs(_inference_model(model).predict_on_batch, images, batch_size)


def batched_outputs(run, images, batch_size=BATCH_SIZE):
    """outputs() of (N, 28, 28[, 1]) images from `run`, which maps a float32 batch to a dict of the inference
    model's outputs (Keras or LiteRT); features, logits and activations in float64. No images give empty arrays."""
    images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
    batches = images if len(images) else np.zeros((1, 28, 28, 1), np.float32)
    runs = [run(batches[i:i + batch_size]) for i in range(0, len(batches), batch_size)]
    joined = {name: np.concatenate([np.asarray(out[name]) for out in runs])[:len(images)] for name in runs[0]}
    return (joined["features"].astype(np.float64), joined["logits"].transpose(1, 0, 2).astype(np.float64),
            joined["probabilities"], joined["activations"].astype(np.float64))


def fit_classes(features, labels, num_classes=10):
    """(class means (C, F), precision (F, F)): the inverse of the covariance the classes share, plus RIDGE."""
    means = np.stack([features[labels == c].mean(axis=0) for c in range(num_classes)])
    centred = features - means[labels]
    covariance = centred.T @ centred / len(features)
    covariance += RIDGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return means, np.linalg.inv(covariance)


def scores(method, features, logits, probabilities, activations, arrays=None):
    """The `method`'s score of each input (N,): higher means less like a digit. `arrays`: the detector's arrays
    (means and precision for `mahalanobis`, also HEAD_ARRAYS for `outlier_exposure`)."""
    if method == "msp":
        return 1 - probabilities.max(axis=1)
    if method == "energy":
        top = logits.max(axis=-1)
        return -(top + np.log(np.exp(logits - top[..., None]).sum(axis=-1))).mean(axis=0)
    if method == "mahalanobis":
        return np.min([np.sum((features - mean) @ arrays["precision"] * (features - mean), axis=1)
                       for mean in arrays["means"]], axis=0)
    if method == "outlier_exposure":
        z = (head_inputs(features, logits, probabilities, activations, arrays) - arrays["shift"]) / arrays["scale"]
        hidden = np.maximum(z @ arrays["hidden_weights"] + arrays["hidden_bias"], 0)
        return hidden @ arrays["output_weights"] + arrays["output_bias"]
    raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")


def head_inputs(features, logits, probabilities, activations, arrays):
    """(N, F + A + 3): each input's features, activations, log(1 + Mahalanobis score), top probability and energy."""
    distance = scores("mahalanobis", features, logits, probabilities, activations, arrays)
    return np.column_stack([features, activations, np.log1p(np.maximum(distance, 0)), probabilities.max(axis=1),
                            scores("energy", features, logits, probabilities, activations)])


def threshold(validation_scores, reject_rate):
    """The score above which `reject_rate` of the validation digits lie."""
    return float(np.quantile(validation_scores, 1 - reject_rate))


def save_detector(directory, method, level, reject_rate, arrays, model_sha256):
    """Writes DETECTOR_JSON and DETECTOR_ARRAYS (their names) into `directory`, each atomically, for the model file
    whose SHA-256 is `model_sha256`; `arrays`: {name: array} (means, precision[, HEAD_ARRAYS])."""
    directory = Path(directory)
    with atomic_path(directory / DETECTOR_ARRAYS.name) as tmp, open(tmp, "wb") as out:
        np.savez(out, **arrays)
    write_json(directory / DETECTOR_JSON.name, {"method": method, "threshold": level, "reject_rate": reject_rate,
                                                "arrays": DETECTOR_ARRAYS.name, "model_sha256": model_sha256})


def load_detector(json_path):
    """{method, threshold, reject_rate, model_sha256, arrays} from the detector files; DetectorFileError, one line."""
    json_path = Path(json_path)
    try:
        with open_input(json_path, "run `dvc repro` to fit it") as file:
            spec = json.loads(file.read())
        method, level, model_sha256 = spec["method"], float(spec["threshold"]), str(spec["model_sha256"])
        if method not in METHODS or not np.isfinite(level):
            raise ValueError(f"method {method!r} with threshold {level}")
        arrays_path = json_path.parent / spec["arrays"]
        names = ("means", "precision") + (HEAD_ARRAYS if method == "outlier_exposure" else ())
        with open_input(arrays_path, "run `dvc repro` to fit it") as file, np.load(file, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in names}
    except InputError as err:
        raise DetectorFileError(f"not-a-digit detector: {err}") from None
    except (ValueError, KeyError, TypeError, OSError, AttributeError, EOFError, zipfile.BadZipFile) as err:
        raise DetectorFileError(f"{json_path}: not a not-a-digit detector ({type(err).__name__}: {err})") from None
    wrong = misshapen(arrays)
    if wrong:
        raise DetectorFileError(f"{arrays_path}: {wrong} do not fit the class means {arrays['means'].shape} "
                                "and precision; expected (C, F), (F, F) and a head on F + A + 3 inputs (A: activations)")
    return {"method": method, "threshold": level, "reject_rate": spec.get("reject_rate"), "model_sha256": model_sha256,
            "arrays": arrays}


def misshapen(arrays):
    """The names of the detector's arrays whose shapes do not fit the class means' (C, F) and one another."""
    means = arrays["means"]
    width = means.shape[-1] if means.ndim else 0
    expected = {"precision": (width, width)}
    if "hidden_bias" in arrays:
        hidden, inputs = arrays["hidden_bias"].shape[:1], arrays["shift"].shape
        expected.update(scale=inputs, hidden_weights=(*inputs, *hidden), hidden_bias=hidden, output_weights=hidden,
                        output_bias=())
    wrong = [name for name, shape in expected.items() if arrays[name].shape != shape]
    if "hidden_bias" in arrays and (arrays["shift"].ndim != 1 or len(arrays["shift"]) < width + 3):
        wrong.append("shift")  # the head reads F features, A activations and 3 scores
    return (["means"] if means.ndim != 2 else []) + wrong

"""Says which pictures are probably not one digit, with the detector the not_a_digit stage fitted.

`read_detector(model_path)` reads the detector files beside the model file (not_a_digit.json and .npz;
None when there are none, or they were fitted for another model file); DetectorFileError (one line) when they
are malformed. `verdicts(detector, model_outputs, pieces)` reads the model's features, logits and
probabilities of the (N, 28, 28) inputs (runtime's classifiers' heads, not_a_digit.outputs) and the
digit-sized pieces predict/pieces.py counted in each picture and returns one dict per picture:
`not_a_digit` (bool: the score is over the threshold, or two or more pieces stand side by side),
`not_a_digit_score`, `not_a_digit_threshold` and `digit_pieces`; with no detector, NOT_CHECKED.
"""
from pathlib import Path

from mnist_pipeline.calibration import file_sha256
from mnist_pipeline.not_a_digit import DETECTOR_JSON, load_detector, scores

NOT_CHECKED = {"not_a_digit": None, "not_a_digit_score": None, "not_a_digit_threshold": None}


def read_detector(model_path):
    """The detector fitted for the model at `model_path` (its folder's not_a_digit.json), or None if there is none
    or it was fitted for another model file."""
    path = Path(model_path).parent / DETECTOR_JSON.name
    if not path.exists():
        return None
    detector = load_detector(path)
    return detector if detector["model_sha256"] == file_sha256(model_path) else None


def verdicts(detector, model_outputs, pieces):
    """Per picture: whether it is probably not one digit, its score and the threshold, and its digit pieces, from
    the model's (features, logits, probabilities) of the inputs (not_a_digit.outputs; a classifier's heads)."""
    if detector is None:
        return [{**NOT_CHECKED, "digit_pieces": int(count)} for count in pieces]
    score = scores(detector["method"], *model_outputs, detector["arrays"])
    level = detector["threshold"]
    return [{"not_a_digit": bool(s > level or count >= 2), "not_a_digit_score": round(float(s), 2),
             "not_a_digit_threshold": round(level, 2), "digit_pieces": int(count)}
            for s, count in zip(score, pieces)]

"""Says which pictures are probably not one digit, with the detector the not_a_digit stage fitted.

`read_detector(model_path)` reads the detector files beside the model file (not_a_digit.json and .npz;
None when there are none, or they were fitted for another model file); DetectorFileError (one line) when they
are malformed. `verdicts(detector, model_outputs, checks)` reads the model's features, logits and
probabilities of the (N, 28, 28) inputs (runtime's classifiers' heads, not_a_digit.outputs) and the
InkChecks predict/pieces.py made of each picture and returns one dict per picture: `not_a_digit` (bool:
the score is over the threshold, two or more pieces stand side by side, or the strokes are too uneven for
a pen), `not_a_digit_score`, `not_a_digit_threshold`, `digit_pieces` and `stroke_spread`; with no
detector, NOT_CHECKED and the two checks' figures.
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


def verdicts(detector, model_outputs, checks):
    """Per picture: whether it is probably not one digit, its score and the threshold, its digit pieces and stroke
    spread, from the model's (features, logits, probabilities) of the inputs (not_a_digit.outputs; a classifier's
    heads) and each picture's InkChecks."""
    figures = [{"digit_pieces": int(check.pieces), "stroke_spread": float(check.stroke_spread)} for check in checks]
    if detector is None:
        return [{**NOT_CHECKED, **figure} for figure in figures]
    score = scores(detector["method"], *model_outputs, detector["arrays"])
    level = detector["threshold"]
    return [{"not_a_digit": bool(s > level or check.not_one_digit), "not_a_digit_score": round(float(s), 2),
             "not_a_digit_threshold": round(level, 2), **figure}
            for s, check, figure in zip(score, checks, figures)]

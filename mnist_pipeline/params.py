"""Reads `params.yaml` and validates the sections a stage uses before it does any work.

Each check raises `ParamsError` with one line naming the key, the value given and what is allowed.
"""
import copy
import math
from pathlib import Path

import yaml

from mnist_pipeline.stage import PipelineError

PARAMS_FILE = Path("params.yaml")


class ParamsError(PipelineError, ValueError):
    """A value in params.yaml is missing, of the wrong type or out of range."""


def load_params(*keys, path=PARAMS_FILE):
    """Returns {key: validated value} for the named sections or dotted keys ("dataset.files")."""
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found (run from the repository root)") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    out = {}
    for key in keys:
        value = params
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ParamsError(f"{path}: {key} is missing")
            value = value[part]
        out[key] = SCHEMAS[key](value, key)
    return out


def merge_preset(params, preset_path):
    """`params` (from load_params) with a preset file's values merged on top, validated again.

    A preset is a partial params file, e.g. `train: {epochs: 30}`; it may only change sections in `params`.
    """
    preset = yaml.safe_load(Path(preset_path).read_text()) or {}
    merged = copy.deepcopy(params)
    for section, values in preset.items():
        if section not in merged:
            raise ParamsError(f"{preset_path}: section '{section}' is not one of {', '.join(merged)}")
        deep_merge(merged[section], values)
    return {key: SCHEMAS[key](value, key) for key, value in merged.items()}


def deep_merge(target, updates):
    """Merges nested dict `updates` into `target` in place: mappings merge, other values replace."""
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = value


# --- small checkers: each returns the value or raises ParamsError naming the key -----------------

def _fail(key, value, allowed):
    raise ParamsError(f"params.yaml: {key} = {value!r} is invalid; expected {allowed}")


def _mapping(value, key, required, optional=()):
    if not isinstance(value, dict):
        _fail(key, value, "a mapping")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise ParamsError(f"params.yaml: {key}.{unknown[0]} is not a known key; "
                          f"allowed: {', '.join(sorted([*required, *optional]))}")
    for name in required:
        if name not in value:
            raise ParamsError(f"params.yaml: {key}.{name} is missing")
    return value


def _int(value, key, low, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(key, value, f"an integer in [{low}, {high}]")
    return value


def _number(value, key, low, high, low_open=False, high_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        _fail(key, value, f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}")
    return float(value)


def _choice(value, key, choices):
    if value not in choices:
        _fail(key, value, f"one of {', '.join(choices)}")
    return value


def _str(value, key):
    if not isinstance(value, str) or not value:
        _fail(key, value, "a non-empty string")
    return value


# --- one validator per section -------------------------------------------------------------------

FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def _mirrors(urls, key):
    if not isinstance(urls, list) or not urls:
        _fail(key, urls, "a non-empty list of URLs")
    for i, url in enumerate(urls):
        _str(url, f"{key}[{i}]")
    return urls


def _files(files, key):
    _mapping(files, key, FILE_KEYS)
    for name in FILE_KEYS:
        entry = _mapping(files[name], f"{key}.{name}", ("name", "sha256"))
        _str(entry["name"], f"{key}.{name}.name")
        digest = entry["sha256"]
        if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            _fail(f"{key}.{name}.sha256", digest, "64 lowercase hex digits")
    return files


def _class_names(names, key):
    if not isinstance(names, list) or len(names) != 10 or len(set(map(str, names))) != 10:
        _fail(key, names, "a list of 10 distinct class names")
    return [str(name) for name in names]


def _preprocess(p, key):
    _mapping(p, key, ("val_fraction", "seed"))
    _number(p["val_fraction"], f"{key}.val_fraction", 0, 1, low_open=True, high_open=True)
    _int(p["seed"], f"{key}.seed", 0)
    return p


ACTIVATIONS = ("relu", "gelu", "silu", "elu")


def _model(p, key):
    _mapping(p, key, ("conv_blocks", "batchnorm", "activation", "dense_units", "dropout"))
    blocks = p["conv_blocks"]
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 3:
        _fail(f"{key}.conv_blocks", blocks, "a list of 1 to 3 blocks (28 px halves at each)")
    for i, block in enumerate(blocks):
        _mapping(block, f"{key}.conv_blocks[{i}]", ("filters", "convs"))
        _int(block["filters"], f"{key}.conv_blocks[{i}].filters", 1, 1024)
        _int(block["convs"], f"{key}.conv_blocks[{i}].convs", 1, 4)
    if not isinstance(p["batchnorm"], bool):
        _fail(f"{key}.batchnorm", p["batchnorm"], "true or false")
    _choice(p["activation"], f"{key}.activation", ACTIVATIONS)
    _int(p["dense_units"], f"{key}.dense_units", 0, 4096)
    _number(p["dropout"], f"{key}.dropout", 0, 1, high_open=True)
    return p


def _train(p, key):
    _mapping(p, key, ("seed", "epochs", "batch_size", "optimizer", "learning_rate", "warmup_epochs",
                      "schedule", "label_smoothing", "precision", "strategy", "augment", "ensemble",
                      "ensemble_split"))
    _int(p["seed"], f"{key}.seed", 0)
    _int(p["ensemble"], f"{key}.ensemble", 1, 20)
    if p["ensemble"] > 1 and p["strategy"] == "multi_worker":
        _fail(f"{key}.ensemble", p["ensemble"], "1 with train.strategy multi_worker (its workers start one run each)")
    _choice(p["ensemble_split"], f"{key}.ensemble_split", ("same", "folds", "all"))
    _int(p["epochs"], f"{key}.epochs", 1, 1000)
    _int(p["batch_size"], f"{key}.batch_size", 1, 65536)
    _choice(p["optimizer"], f"{key}.optimizer", ("adam", "adamw"))
    _number(p["learning_rate"], f"{key}.learning_rate", 0, 1, low_open=True)
    _int(p["warmup_epochs"], f"{key}.warmup_epochs", 0, p["epochs"] - 1)
    _choice(p["schedule"], f"{key}.schedule", ("cosine", "constant"))
    _number(p["label_smoothing"], f"{key}.label_smoothing", 0, 1, high_open=True)
    _choice(p["precision"], f"{key}.precision", ("float32", "mixed_bfloat16", "mixed_float16"))
    _choice(p["strategy"], f"{key}.strategy", ("auto", "one_device", "mirrored", "multi_worker"))
    aug = _mapping(p["augment"], f"{key}.augment", ("rotation_deg", "zoom", "shift_px"))
    _number(aug["rotation_deg"], f"{key}.augment.rotation_deg", 0, 45)
    _number(aug["zoom"], f"{key}.augment.zoom", 0, 0.5)
    _number(aug["shift_px"], f"{key}.augment.shift_px", 0, 8)
    return p


def _evaluate(p, key):
    _mapping(p, key, ("batch_size", "test_time_shift_px"))
    _int(p["batch_size"], f"{key}.batch_size", 1, 100000)
    _int(p["test_time_shift_px"], f"{key}.test_time_shift_px", 0, 4)
    return p


def _visualize(p, key):
    _mapping(p, key, ("sample_count", "mistake_count", "dpi"))
    _int(p["sample_count"], f"{key}.sample_count", 1, 100)
    _int(p["mistake_count"], f"{key}.mistake_count", 1, 100)
    _int(p["dpi"], f"{key}.dpi", 50, 600)
    return p


SCHEMAS = {"dataset.name": _str, "dataset.mirrors": _mirrors, "dataset.files": _files,
           "dataset.class_names": _class_names, "preprocess": _preprocess, "model": _model, "train": _train,
           "evaluate": _evaluate, "visualize": _visualize}

"""Reads and checks what the report shows: the metrics JSON files, the per-epoch history (mnist_pipeline.history),
the predictions table, the figures it links and the saved model, all at the paths in mnist_pipeline/paths.py
(the robustness stage's in mnist_pipeline/robustness/__init__.py).

`read_run_outputs` returns them as one RunOutputs; a missing or malformed input raises ReportInputError (or
files.InputError: a FIFO, device, directory, empty or non-UTF-8 file), whose one-line message names the file
and what to do.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_pipeline import files
from mnist_pipeline.calibration import CALIBRATION_FILE, read_calibration
from mnist_pipeline.history import metric_file, read_history
from mnist_pipeline.not_a_digit import NOT_A_DIGIT_FIGURE, NOT_A_DIGIT_METRICS
from mnist_pipeline.paths import (DATASET_METRICS, EVALUATE_METRICS, EVALUATE_SPEED, FIGURES_DIR, MODEL_FILE,
                                  PREDICTION_COLUMNS, PREDICTIONS_PLOT, REPORT_FILE, TRAIN_METRICS, TRAIN_SPEED)
from mnist_pipeline.robustness import ROBUSTNESS_FIGURE, ROBUSTNESS_METRICS
from mnist_pipeline.stage import PipelineError

SPLITS = ("train", "val", "test")
# plots/figures/<name> that the report links (the visualize stage draws them)
FIGURES = ("accuracy.png", "loss.png", "confusion_matrix.png", "per_class_accuracy.png", "mistakes.png",
           "sample_predictions.png", "filters.png", "reliability.png")


# The files the report names as its sources, by the RunOutputs field read from them.
SOURCES = {"dataset": DATASET_METRICS, "train": TRAIN_METRICS, "train_speed": TRAIN_SPEED,
           "evaluation": EVALUATE_METRICS, "evaluate_speed": EVALUATE_SPEED, "history": metric_file("loss").parent,
           "epoch_seconds": metric_file("seconds"), "predictions": PREDICTIONS_PLOT, "calibration": CALIBRATION_FILE,
           "robustness": ROBUSTNESS_METRICS, "not_a_digit": NOT_A_DIGIT_METRICS}
# What the report reads from metrics/robustness.json (mnist_pipeline/robustness/results.py writes it).
ROBUSTNESS_KEYS = ("images", "clean_accuracy", "corruptions", "corruption_mean_accuracy", "headline_mean_accuracy",
                   "headline_excludes", "style_images", "style_clean_accuracy", "styles", "style_mean_accuracy",
                   "style_unreadable")


PRODUCE_IT = "run `dvc repro` to produce it"  # what to do about a missing output of an earlier stage
# What the report reads from metrics/not_a_digit.json (stages/not_a_digit.py writes it).
NOT_A_DIGIT_KEYS = ("method", "threshold", "reject_rate", "pictures_per_kind", "rejected", "by_method")


class ReportInputError(PipelineError, ValueError):
    """An output of an earlier stage that the report reads is missing or malformed."""


def read_json(path, keys):
    """The JSON object in `path`, which must hold every key in `keys` (read as files.read_json reads inputs)."""
    return files.read_json(path, keys, missing_hint=PRODUCE_IT)


def read_csv(path, columns):
    """The table in the CSV file `path`, which must have `columns` and at least one row."""
    return files.read_table(path, columns, missing_hint=PRODUCE_IT)


def require_classes(path, mapping, class_names):
    """Checks that `mapping` (a part of the JSON file `path`) has an entry for every class name."""
    missing = [name for name in class_names if name not in mapping]
    if missing:
        raise ReportInputError(f"{path}: no entry for class {missing[0]!r} of dataset.class_names; "
                               "rerun the stage that writes it")


def require_class_indices(predictions, class_count):
    """Checks that every actual and predicted class in plots/predictions.csv is in 0..class_count - 1."""
    if not predictions[["actual", "predicted"]].isin(range(class_count)).all(axis=None):
        raise ReportInputError(f"{PREDICTIONS_PLOT}: class indices outside 0..{class_count - 1}; "
                               "rerun the evaluate stage")


def require_epoch(history, epoch):
    """Checks that the history has a row for `epoch` (the best epoch named in the train metrics)."""
    if not (history["epoch"] == epoch).any():
        raise ReportInputError(f"{metric_file('val_accuracy')}: no row for epoch {epoch} named in {TRAIN_METRICS}; "
                               "rerun the train stage")


def figure_link(path, report_dir, stage="visualize"):
    """The path of the figure file `path` (which must exist; `stage` draws it) relative to `report_dir`."""
    if not Path(path).is_file():
        raise ReportInputError(f"{path}: not found; run the {stage} stage (dvc repro)")
    return Path(os.path.relpath(path, report_dir)).as_posix()


def figure_links(figures_dir, report_dir):
    """{figure file name: its path relative to `report_dir`} for FIGURES, each of which must exist, and the
    robustness and not-a-digit figures as "robustness" and "not_a_digit"."""
    links = {name: figure_link(Path(figures_dir) / name, report_dir) for name in FIGURES}
    return {**links, "robustness": figure_link(ROBUSTNESS_FIGURE, report_dir, "robustness"),
            "not_a_digit": figure_link(NOT_A_DIGIT_FIGURE, report_dir, "not_a_digit")}


@dataclass
class ModelSummary:
    """What the report says about the saved model: its layers and parameter counts."""
    name: str
    input_shape: tuple
    layers: list  # (name, type, output shape without the batch axis, parameter count) per layer (of one member)
    parameters: int
    trainable: int
    members: int  # networks averaged (train.ensemble); 1 for a single network


def describe_model(model):
    """A ModelSummary of a loaded Keras model; of an ensemble, the layers are its first member's."""
    from mnist_pipeline.model import ensemble_members
    members = ensemble_members(model)
    layers = [(layer.name, type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
              for layer in members[0].layers]
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    return ModelSummary(model.name, tuple(model.input_shape[1:]), layers, model.count_params(), trainable,
                        len(members))


@dataclass
class RunOutputs:
    """Everything the report and model card show."""
    dataset_name: str
    class_names: list
    train_params: dict        # the validated `train` section of params.yaml, as a mapping
    test_time_shift_px: int   # params.yaml evaluate.test_time_shift_px
    dataset: dict             # metrics/dataset.json
    train: dict               # metrics/train.json
    train_speed: dict         # metrics/train_speed.json
    evaluation: dict          # metrics/evaluate.json
    evaluate_speed: dict      # metrics/evaluate_speed.json
    history: pd.DataFrame     # the first (or only) network's per-epoch history, columns paths.HISTORY_COLUMNS
    predictions: pd.DataFrame  # plots/predictions.csv
    calibration: dict         # models/calibration.json (mnist_pipeline.calibration)
    robustness: dict          # metrics/robustness.json (the robustness stage)
    not_a_digit: dict         # metrics/not_a_digit.json (the not_a_digit stage)
    model: ModelSummary
    figures: dict             # figure file name -> link relative to the report's folder
    sources: dict             # the files above as the report names them (SOURCES)


def read_run_outputs(dataset_name, class_names, train_params, test_time_shift_px):
    """The RunOutputs of the run in the current directory, every input checked before the model is loaded."""
    inputs = dict(
        dataset=read_json(DATASET_METRICS, SPLITS),
        train=read_json(TRAIN_METRICS, ("best_epoch", "best_val_accuracy")),
        train_speed=read_json(TRAIN_SPEED, ("training_seconds", "train_images_per_second", "peak_memory_mib")),
        evaluation=read_json(EVALUATE_METRICS, ("test_accuracy", "test_loss", "macro_precision", "macro_recall",
                                                "macro_f1", "misclassified", "per_class_accuracy", "temperature",
                                                "test_ece", "test_ece_calibrated")),
        evaluate_speed=read_json(EVALUATE_SPEED, ("eval_images_per_second",)),
        history=read_history(),
        predictions=read_csv(PREDICTIONS_PLOT, PREDICTION_COLUMNS),
        calibration=read_calibration(CALIBRATION_FILE, MODEL_FILE),
        robustness=read_json(ROBUSTNESS_METRICS, ROBUSTNESS_KEYS),
        not_a_digit=read_json(NOT_A_DIGIT_METRICS, NOT_A_DIGIT_KEYS),
        figures=figure_links(FIGURES_DIR, REPORT_FILE.parent),
    )
    require_classes(EVALUATE_METRICS, inputs["evaluation"]["per_class_accuracy"], class_names)
    for split in SPLITS:
        require_classes(DATASET_METRICS, inputs["dataset"][split], class_names)
    require_class_indices(inputs["predictions"], len(class_names))
    require_epoch(inputs["history"], inputs["train"]["best_epoch"])

    from mnist_pipeline.model import load_model  # imported after the checks: TensorFlow takes seconds to load
    model = describe_model(load_model(MODEL_FILE, len(class_names)))
    return RunOutputs(dataset_name=dataset_name, class_names=class_names, train_params=train_params,
                      test_time_shift_px=test_time_shift_px, model=model,
                      sources={name: path.as_posix() for name, path in SOURCES.items()}, **inputs)

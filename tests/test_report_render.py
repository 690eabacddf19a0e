"""The report and model card templates: each branch of their wording, rendered from a small made-up run
(three classes, three epochs) without TensorFlow or DVC, and the input checks that need no files."""
import copy
import os
import re

import pandas as pd
import pytest

from mnist_pipeline.history import metric_file
from mnist_pipeline.paths import TRAIN_METRICS
from mnist_pipeline.report.inputs import (ModelSummary, ReportInputError, RunOutputs, require_class_indices,
                                          require_epoch)
from mnist_pipeline.report.render import render_model_card, render_report

NAMES = ["0", "1", "2"]
# class 0: 10 right; class 1: 8 right, 2 taken for 2; class 2: 9 right, 1 taken for 0
PREDICTIONS = ([(0, 0, 0.9)] * 10 + [(1, 1, 0.9)] * 8 + [(1, 2, 0.6)] * 2 + [(2, 2, 0.9)] * 9 + [(2, 0, 0.5)])
TRAIN_PARAMS = {"seed": 42, "epochs": 3, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.003,
                "warmup_epochs": 1, "schedule": "cosine", "label_smoothing": 0.05, "precision": "float32",
                "strategy": "auto", "ensemble": 1, "ensemble_split": "same",
                "augment": {"rotation_deg": 8, "zoom": 0.08, "shift_px": 2}}


def made_up_run(**changes):
    """A RunOutputs of a tiny three-class run; `changes` replace its fields."""
    per_split = {split: {**{name: n for name in NAMES}, "total": 3 * n}
                 for split, n in (("train", 40), ("val", 10), ("test", 10))}
    outputs = RunOutputs(
        dataset_name="Tiny", class_names=NAMES, train_params=copy.deepcopy(TRAIN_PARAMS), test_time_shift_px=0,
        dataset=per_split, train={"best_epoch": 2, "best_val_accuracy": 28 / 30},
        train_speed={"training_seconds": 9.0, "train_images_per_second": 40.0, "peak_memory_mib": 500.0},
        evaluation={"test_accuracy": 0.9, "test_loss": 0.3, "macro_precision": 0.9, "macro_recall": 0.9,
                    "macro_f1": 0.9, "misclassified": 3, "per_class_accuracy": {"0": 1.0, "1": 0.8, "2": 0.9},
                    "temperature": 1.5, "test_ece": 0.08, "test_ece_calibrated": 0.03},
        evaluate_speed={"eval_images_per_second": 1000.0},
        history=pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.9, 0.6, 0.5], "accuracy": [0.8, 0.9, 0.93],
                              "val_loss": [0.7, 0.5, 0.55], "val_accuracy": [0.85, 28 / 30, 0.9],
                              "learning_rate": [0.003, 0.002, 0.0], "seconds": [5.0, 2.0, 2.0]}),
        predictions=pd.DataFrame(PREDICTIONS, columns=["actual", "predicted", "confidence"]).rename_axis("index"),
        calibration={"temperature": 1.5, "unsure_below": 0.8, "bins": 15, "validation_ece_before": 0.07,
                     "validation_ece_after": 0.02},
        robustness={"images": 30, "clean_accuracy": 0.9, "corruptions": {"fog": 0.5, "rotate": 0.8},
                    "corruption_mean_accuracy": 0.65, "headline_mean_accuracy": 0.5,
                    "headline_excludes": {"rotate": "train.augment.rotation_deg"}, "style_images": 10,
                    "style_clean_accuracy": 1.0, "styles": {"paper_photo": 0.9}, "style_mean_accuracy": 0.9,
                    "style_unreadable": {"paper_photo": 1}},
        not_a_digit={"method": "mahalanobis", "threshold": 430.2, "reject_rate": 0.005, "pictures_per_kind": 10,
                     "rejected": {"mnist_test": 0.004, "fashion_mnist": 0.787, "letter": 0.375},
                     "by_method": {"msp": {"mnist_test": 0.004, "fashion_mnist": 0.17, "letter": 0.367},
                                   "mahalanobis": {"mnist_test": 0.004, "fashion_mnist": 0.787, "letter": 0.375}}},
        model=ModelSummary("tiny_cnn", (28, 28, 1), [("image", "InputLayer", (28, 28, 1), 0),
                                                     ("conv", "Conv2D", (28, 28, 4), 36),
                                                     ("class_probabilities", "Dense", (3,), 9411)],
                           9447, 9447, 1),
        figures={name: f"../plots/figures/{name}" for name in (
            "accuracy.png", "loss.png", "confusion_matrix.png", "per_class_accuracy.png", "mistakes.png",
            "sample_predictions.png", "filters.png", "reliability.png")} | {
            "robustness": "../plots/robustness/examples.png", "not_a_digit": "../plots/not_a_digit/examples.png"},
        sources={"dataset": "metrics/dataset.json", "train": "metrics/train.json", "train_speed": "metrics/speed.json",
                 "evaluation": "metrics/evaluate.json", "evaluate_speed": "metrics/evaluate_speed.json",
                 "history": "logs/history", "epoch_seconds": "logs/seconds.tsv", "predictions": "predictions.csv",
                 "calibration": "models/calibration.json", "robustness": "metrics/robustness.json",
                 "not_a_digit": "metrics/not_a_digit.json"})
    for name, value in changes.items():
        setattr(outputs, name, value)
    return outputs


def test_single_network_report_and_card():
    report, card = render_report(made_up_run()), render_model_card(made_up_run())
    assert "Layers of `models/model.keras` (output shape per image):" in report
    assert "| `conv` | Conv2D | 28 × 28 × 4 | 36 |" in report
    assert "softmax output) with 9,447 parameters;" in card
    assert "| 1 | 10 | 8 | 80.00% | 100.00% | 2 (2) |\n" in report
    assert "| 0 | 10 | 10 | 100.00% | 90.91% | – |\n" in report
    assert "Hardest classes: 1 (80.00%, 2 wrong), 2 (90.00%, 1 wrong), 0 (100.00%, 0 wrong).\n" in report
    assert "- 1 → 2: 2\n- 2 → 0: 1\n\nMedian confidence: 0.900 when right, 0.600 when wrong.\n" in report
    assert "| lowest class accuracy (class 1) | 80.00% |" in card and "Class 1 is the hardest" in card
    assert report.endswith("The 2 commonest confusions make up 3 of the 3 mistakes; more augmentation of those "
                           "shapes or a look at their images may pay off.\n")


@pytest.mark.parametrize("split, how", [
    ("same", "trained with consecutive seeds,"),
    ("folds", "trained with consecutive seeds, each on its own cross-validation fold of the training and "
              "validation images,"),
    ("all", "trained with consecutive seeds, the first on the train split and the others on all the training "
            "and validation images,")])
def test_ensemble_says_how_its_members_were_trained(split, how):
    outputs = made_up_run(model=ModelSummary("ensemble", (28, 28, 1), made_up_run().model.layers, 28341, 28341, 3))
    outputs.train_params["ensemble_split"] = split
    assert f"Layers of each of its 3 members (`member1` to `member3`, {how[:-1]}; the model averages their " \
           "outputs) (output shape per image):" in render_report(outputs)
    assert f"softmax output), an ensemble that averages 3 such networks {how} with 28,341 parameters;" in \
        render_model_card(outputs)


def test_overfitting_verdict_and_next_step():
    report = render_report(made_up_run())  # final epoch: 93% train, 90% validation accuracy
    assert ("- Training accuracy ends 3.00 pt above validation accuracy, even with augmentation and dropout: "
            "the model overfits the training images.\n") in report
    assert "- The model overfits: try stronger augmentation (`train.augment`) or more dropout" in report

    history = made_up_run().history.assign(accuracy=[0.8, 0.9, 0.898])
    report = render_report(made_up_run(history=history))
    assert "- Training accuracy ends 0.20 pt below validation accuracy: no sign of overfitting.\n" in report
    assert "- The model does not overfit, so it has room for more capacity" in report


def test_best_epoch_before_the_last_and_at_the_last():
    report = render_report(made_up_run())
    assert "| 2 (best validation accuracy) | 90.00% | 93.33% | -3.33 pt | 0.6000 | 0.5000 |\n" \
           "| 3 (final) | 93.00% | 90.00% | +3.00 pt | 0.5000 | 0.5500 |\n" in report
    assert "- Validation accuracy peaked at epoch 2 of 3; the last epoch changed it by 1 validation image, so" in report
    assert "Validation loss was lowest at epoch 2 (0.5000)." in report

    report = render_report(made_up_run(train={"best_epoch": 3, "best_val_accuracy": 0.9}))
    assert "| 3 (best validation accuracy and final) |" in report and "(best validation accuracy) |" not in report
    assert ("- Validation accuracy was highest at the last epoch (3), so it may still be improving: train longer, "
            "e.g. `dvc exp run -S train.epochs=6`.\n") in report


def test_one_epoch_run_has_no_later_epoch_times():
    history = made_up_run().history.iloc[:1]
    report = render_report(made_up_run(history=history, train={"best_epoch": 1, "best_val_accuracy": 0.85}))
    assert "| training time | 9.0 s (0.1 min) for 1 epoch |\n| time per epoch | first 5.0 s (includes building the " \
           "graph) |\n" in report


def test_run_without_mistakes():
    predictions = made_up_run().predictions.assign(predicted=lambda table: table["actual"])
    report = render_report(made_up_run(predictions=predictions))
    assert "- none: every test image is classified correctly\n\nMedian confidence: 0.900 when right.\n" in report
    assert "Look at classes" not in report


def test_test_time_augmentation_and_schedule_wording():
    outputs = made_up_run(test_time_shift_px=2)
    outputs.train_params.update(warmup_epochs=0, schedule="constant", augment={"rotation_deg": 0, "zoom": 0,
                                                                               "shift_px": 0})
    report, card = render_report(outputs), render_model_card(outputs)
    assert "| predictions | averaged over each test image and 4 copies shifted 2 px right, left, down and up " \
           "(test-time augmentation) |" in report
    assert "The test metrics average the outputs for each image and for 4 copies of it shifted 2 px " \
           "(test-time augmentation), and so does `predict.py`." in card
    assert "| schedule | peak learning rate 0.003; constant |\n" in report and "| augmentation | none |\n" in report
    assert "Augmentation during training only: none.\n" in card

    card = render_model_card(made_up_run())
    assert "The test metrics come from one prediction per image, as does `predict.py`." in card
    assert "adam, peak learning rate 0.003; linear warm-up over 1 epoch, then cosine decay to 0 at the last step;" \
           in card
    assert "augmentation: per image, a random rotation up to ±8°, zoom up to ±8% and shift up to ±2 px.\n" in card


def test_checks_of_predictions_and_history_name_the_file():
    with pytest.raises(ReportInputError, match=r"^plots/predictions.csv: class indices outside 0\.\.2; rerun the "
                                               r"evaluate stage$"):
        require_class_indices(made_up_run().predictions.assign(predicted=3), len(NAMES))
    expected = f"{metric_file('val_accuracy')}: no row for epoch 7 named in {TRAIN_METRICS}; rerun the train stage"
    with pytest.raises(ReportInputError, match=f"^{re.escape(expected)}$"):
        require_epoch(made_up_run().history, 7)


@pytest.mark.parametrize("make, problem", [
    (lambda path: os.mkfifo(path), "is a FIFO (named pipe); expected a regular file"),
    (lambda path: path.mkdir(), "is a directory; expected a regular file"),
    (lambda path: path.write_bytes(b"{\"a\": \"\xe9\"}"), "not valid UTF-8 (byte 7)"),
    (lambda path: path.write_text("[1]"), "expected a JSON object, not list; rerun the stage that writes it"),
])
def test_report_inputs_refuse_what_is_not_a_file_of_json_in_one_line(tmp_path, make, problem):
    """The report's readers go through files.open_input: a FIFO is refused at once instead of read forever."""
    from mnist_pipeline.files import InputError
    from mnist_pipeline.report.inputs import read_csv, read_json
    path = tmp_path / "metrics.json"
    make(path)
    with pytest.raises(InputError, match=f"^{re.escape(f'{path}: {problem}')}$"):
        read_json(path, ())
    if "JSON" not in problem:
        with pytest.raises(InputError, match=f"^{re.escape(f'{path}: {problem}')}$"):
            read_csv(path, ())

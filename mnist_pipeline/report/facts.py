"""The facts the run report and the model card state, computed from a RunOutputs (see inputs.py).

`run_facts` returns one dict of plain numbers, names, table rows (dicts) and verdicts (booleans) for the
templates; the templates hold the wording and the number formats. Every number comes from the metrics
files, the history and predictions tables, the model or params.yaml.
"""
import math

import numpy as np

from mnist_pipeline.metrics import confusion_matrix

HARDEST_COUNT = 3     # classes named as the hardest
LOOK_AT_COUNT = 2     # hardest classes the next steps suggest looking at
CONFUSION_COUNT = 5   # (actual, predicted) pairs listed as the most common confusions
OVERFIT_GAP_PT = 0.5  # final train accuracy this many points above validation accuracy counts as overfitting


def confusion_counts(predictions, class_count):
    """The test confusion matrix from the predictions table (rows: actual class, columns: predicted)."""
    return confusion_matrix(predictions["actual"].to_numpy(), predictions["predicted"].to_numpy(), class_count)


def top_confusions(counts, class_names, limit=CONFUSION_COUNT):
    """[(actual name, predicted name, count)] of the most frequent mistakes, most frequent first."""
    errors = np.where(np.eye(len(counts), dtype=bool), 0, counts).ravel()
    order = np.argsort(-errors, kind="stable")[:limit]
    return [(class_names[i // len(counts)], class_names[i % len(counts)], int(errors[i]))
            for i in order if errors[i] > 0]


def hardest_classes(per_class_accuracy, limit=HARDEST_COUNT):
    """The `limit` class names with the lowest test accuracy, lowest first."""
    return sorted(per_class_accuracy, key=per_class_accuracy.get)[:limit]


def median_confidence(predictions, right):
    """Median confidence of the right (right=True) or wrong predictions; None when there are none."""
    correct = predictions["actual"] == predictions["predicted"]
    chosen = predictions["confidence"][correct if right else ~correct]
    return float(chosen.median()) if len(chosen) else None


def smoothed_loss_floor(label_smoothing, num_classes):
    """The lowest cross-entropy reachable against label-smoothed targets: the targets' entropy."""
    other = label_smoothing / num_classes
    targets = [1 - label_smoothing + other] + [other] * (num_classes - 1)
    return -sum(t * math.log(t) for t in targets if t > 0)


def accuracy_gap(row):
    """Training minus validation accuracy of one history row, in percentage points."""
    return float((row["accuracy"] - row["val_accuracy"]) * 100)


def class_rows(counts, class_names, per_class_accuracy):
    """One dict per class: test images, correct, accuracy, precision, wrong, the class it is most taken for."""
    images, correct, predicted = counts.sum(axis=1), counts.diagonal(), counts.sum(axis=0)
    rows = []
    for i, name in enumerate(class_names):
        errors = counts[i].copy()
        errors[i] = 0
        rows.append({"name": name, "images": int(images[i]), "correct": int(correct[i]),
                     "wrong": int(images[i] - correct[i]), "accuracy": per_class_accuracy[name],
                     "precision": float(correct[i] / predicted[i]) if predicted[i] else 0.0,
                     "taken_for": class_names[errors.argmax()], "taken_for_count": int(errors.max())})
    return rows


def calibration_facts(calibration, evaluation, predictions):
    """The temperature, ECE on validation and test before and after it, and how the test answers marked unsure
    (calibrated confidence under unsure_below, as predict.py marks them) compare with the others."""
    unsure = predictions["confidence"] < calibration["unsure_below"]
    correct = predictions["actual"] == predictions["predicted"]
    return {"temperature": calibration["temperature"], "unsure_below": calibration["unsure_below"],
            "bins": calibration["bins"],
            "validation_ece_before": calibration["validation_ece_before"],
            "validation_ece_after": calibration["validation_ece_after"],
            "test_ece_before": evaluation["test_ece"], "test_ece_after": evaluation["test_ece_calibrated"],
            "unsure_count": int(unsure.sum()), "unsure_share": float(unsure.mean()),
            "unsure_accuracy": float(correct[unsure].mean()) if unsure.any() else None,
            "sure_accuracy": float(correct[~unsure].mean()) if not unsure.all() else None,
            "mistakes_unsure": int((unsure & ~correct).sum())}


def robustness_facts(robustness):
    """The robustness table: accuracy per corruption (with the `train.augment` field that does the same kind of
    change, if any) and per picture style (with the pictures the preparation refused), and the means."""
    excluded = robustness["headline_excludes"]
    return {**{key: robustness[key] for key in ("images", "clean_accuracy", "corruption_mean_accuracy",
                                                "headline_mean_accuracy", "style_images", "style_clean_accuracy",
                                                "style_mean_accuracy")},
            "corruptions": [{"name": name, "accuracy": accuracy, "augmented_by": excluded.get(name)}
                            for name, accuracy in robustness["corruptions"].items()],
            "excluded": list(excluded),
            "styles": [{"name": name, "accuracy": accuracy, "unreadable": robustness["style_unreadable"].get(name, 0)}
                       for name, accuracy in robustness["styles"].items()]}


def not_a_digit_facts(not_a_digit):
    """The not-a-digit table: per set of pictures, the share rejected by each score (with the pieces check), and
    the shares of the score the detector uses."""
    methods = list(not_a_digit["by_method"])
    return {**{key: not_a_digit[key] for key in ("method", "threshold", "reject_rate", "pictures_per_kind")},
            "rejected": not_a_digit["rejected"], "methods": methods,
            "rows": [{"name": name, "rates": [not_a_digit["by_method"][method][name] for method in methods]}
                     for name in not_a_digit["rejected"]]}


def split_facts(dataset, class_names):
    """Images per class and split (the dataset metrics) and the share of training images held out."""
    train_total = dataset["train"]["total"] + dataset["val"]["total"]
    return {"rows": [{"name": name, **{split: dataset[split][name] for split in ("train", "val", "test")}}
                     for name in class_names],
            "total": {split: dataset[split]["total"] for split in ("train", "val", "test")},
            "official_train": train_total, "val_fraction": dataset["val"]["total"] / train_total}


def model_facts(model):
    """The saved model's name, shapes, layer rows, parameter counts and what kinds of layers it has."""
    kinds = [kind for _, kind, _, _ in model.layers]
    return {"name": model.name, "input_shape": model.input_shape, "members": model.members,
            "layers": [{"name": name, "type": kind, "shape": dims, "parameters": parameters}
                       for name, kind, dims, parameters in model.layers],
            "parameters": model.parameters, "trainable": model.trainable,
            "not_trained": model.parameters - model.trainable,
            "convolutions": kinds.count("Conv2D"), "dense_layers": kinds.count("Dense"),
            "batch_norm": "BatchNormalization" in kinds}


def fit_facts(outputs, loss_floor):
    """The best and final epochs of the history, the overfitting verdict and the loss and test gaps."""
    history, val_images = outputs.history, outputs.dataset["val"]["total"]
    best_epoch = outputs.train["best_epoch"]
    best, final = history[history["epoch"] == best_epoch].iloc[0], history.iloc[-1]
    rows = [final] if best["epoch"] == final["epoch"] else [best, final]
    lowest_loss = history.loc[history["val_loss"].idxmin()]
    return {"epochs": [{"epoch": int(row["epoch"]), "best": row["epoch"] == best["epoch"], "final": row is final,
                        "accuracy": row["accuracy"], "val_accuracy": row["val_accuracy"], "gap": accuracy_gap(row),
                        "loss": row["loss"], "val_loss": row["val_loss"]} for row in rows],
            "gap": accuracy_gap(final), "overfits": accuracy_gap(final) > OVERFIT_GAP_PT,
            "lowest_val_loss_epoch": int(lowest_loss["epoch"]), "lowest_val_loss": lowest_loss["val_loss"],
            "final_val_loss_above_floor": final["val_loss"] - loss_floor,
            "test_gap": float((outputs.evaluation["test_accuracy"] - final["val_accuracy"]) * 100),
            "best_epoch": best_epoch, "last_epoch": int(final["epoch"]),
            # how many fewer validation images the final epoch classifies correctly than the best one
            "val_images_changed": round((best["val_accuracy"] - final["val_accuracy"]) * val_images)}


def speed_facts(outputs):
    """Training time, epoch times, throughputs and memory (the speed metrics, the history)."""
    seconds = outputs.history["seconds"]
    return {**outputs.train_speed, **outputs.evaluate_speed, "epochs": len(seconds),
            "first_epoch_seconds": seconds.iloc[0],
            "later_epoch_seconds": seconds.iloc[1:].mean() if len(seconds) > 1 else None}


def run_facts(outputs):
    """Everything the templates show, as one dict (see the module docstring)."""
    names, evaluation, train = outputs.class_names, outputs.evaluation, outputs.train_params
    counts = confusion_counts(outputs.predictions, len(names))
    classes = class_rows(counts, names, evaluation["per_class_accuracy"])
    by_name = {row["name"]: row for row in classes}
    hardest = [by_name[name] for name in hardest_classes(evaluation["per_class_accuracy"])]
    confusions = top_confusions(counts, names)
    loss_floor = smoothed_loss_floor(train["label_smoothing"], len(names))
    medians = {"right": median_confidence(outputs.predictions, True),
               "wrong": median_confidence(outputs.predictions, False)}
    return {
        "dataset_name": outputs.dataset_name, "class_names": names, "train": train,
        "test_time_shift_px": outputs.test_time_shift_px, "figures": outputs.figures, "sources": outputs.sources,
        "splits": split_facts(outputs.dataset, names), "model": model_facts(outputs.model),
        "steps_per_epoch": math.ceil(outputs.dataset["train"]["total"] / train["batch_size"]),
        "loss_floor": loss_floor,
        "evaluation": evaluation, "test_images": outputs.dataset["test"]["total"],
        "best_val_accuracy": outputs.train["best_val_accuracy"],
        "classes": classes, "hardest": hardest, "look_at": hardest[:LOOK_AT_COUNT],
        "confusions": [{"actual": actual, "predicted": predicted, "count": count}
                       for actual, predicted, count in confusions],
        "confusion_total": sum(count for *_, count in confusions), "mistakes": int(counts.sum() - counts.trace()),
        "median_confidence": {kind: median for kind, median in medians.items() if median is not None},
        "fit": fit_facts(outputs, loss_floor), "speed": speed_facts(outputs),
        "calibration": calibration_facts(outputs.calibration, evaluation, outputs.predictions),
        "robustness": robustness_facts(outputs.robustness),
        "not_a_digit": not_a_digit_facts(outputs.not_a_digit),
    }

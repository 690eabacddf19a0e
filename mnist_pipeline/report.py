"""Renders the run report and the model card (Markdown) from the pipeline's outputs.

`read_json` and `read_csv` load one output file and raise ReportInputError naming it when it is missing
or malformed; `figure_links` checks the figures exist; `describe_model` summarises the saved model.
`render_report` and `render_model_card` turn a RunOutputs into Markdown: every number in them comes
from the metrics files, the history and predictions tables, the model or params.yaml.
"""
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_pipeline.metrics import confusion_matrix
from mnist_pipeline.paths import HISTORY_PLOT, PREDICTIONS_PLOT, TRAIN_METRICS
from mnist_pipeline.stage import PipelineError

SPLITS = ("train", "val", "test")
# plots/figures/<name> shown in the report, with the text each is linked under.
FIGURES = {
    "accuracy.png": "Accuracy per epoch",
    "loss.png": "Loss per epoch",
    "confusion_matrix.png": "Confusion matrix",
    "per_class_accuracy.png": "Test accuracy per class",
    "mistakes.png": "The most confident mistakes",
    "sample_predictions.png": "Sample predictions",
    "filters.png": "First-layer filters",
}
HARDEST_COUNT = 3     # classes named as the hardest
CONFUSION_COUNT = 5   # (actual, predicted) pairs listed as the most common confusions
OVERFIT_GAP_PT = 0.5  # final train accuracy this many points above validation accuracy counts as overfitting


class ReportInputError(PipelineError, ValueError):
    """An output of an earlier stage that the report reads is missing or malformed."""


def read_json(path, keys):
    """The JSON object in `path`, which must hold every key in `keys`."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ReportInputError(f"{path}: not found; run `dvc repro` to produce it") from None
    except (OSError, ValueError) as err:
        raise ReportInputError(f"{path}: cannot read it as JSON ({err})") from None
    missing = [key for key in keys if not isinstance(data, dict) or key not in data]
    if missing:
        raise ReportInputError(f"{path}: {', '.join(missing)} missing; rerun the stage that writes it")
    return data


def read_csv(path, columns):
    """The table in the CSV file `path`, which must have `columns` and at least one row."""
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise ReportInputError(f"{path}: not found; run `dvc repro` to produce it") from None
    except (OSError, ValueError) as err:  # pandas' parser errors are ValueErrors
        raise ReportInputError(f"{path}: cannot read it as CSV ({str(err).splitlines()[0]})") from None
    missing = [column for column in columns if column not in table.columns]
    if missing or table.empty:
        raise ReportInputError(f"{path}: {'columns ' + ', '.join(missing) if missing else 'rows'} missing; "
                               "rerun the stage that writes it")
    return table


def require_classes(path, mapping, class_names):
    """Checks that `mapping` (a part of the JSON file `path`) has an entry for every class name."""
    missing = [name for name in class_names if name not in mapping]
    if missing:
        raise ReportInputError(f"{path}: no entry for class {missing[0]!r} of dataset.class_names; "
                               "rerun the stage that writes it")


def figure_links(figures_dir, report_dir):
    """{figure file name: its path relative to `report_dir`} for FIGURES, each of which must exist."""
    links = {}
    for name in FIGURES:
        path = Path(figures_dir) / name
        if not path.is_file():
            raise ReportInputError(f"{path}: not found; run the visualize stage (dvc repro)")
        links[name] = Path(os.path.relpath(path, report_dir)).as_posix()
    return links


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
    train_params: dict        # the validated `train` section of params.yaml
    test_time_shift_px: int   # params.yaml evaluate.test_time_shift_px
    dataset: dict             # metrics/dataset.json
    train: dict               # metrics/train.json
    train_speed: dict         # metrics/train_speed.json
    evaluation: dict          # metrics/evaluate.json
    evaluate_speed: dict      # metrics/evaluate_speed.json
    history: pd.DataFrame     # plots/history.csv
    predictions: pd.DataFrame  # plots/predictions.csv
    model: ModelSummary
    figures: dict             # figure file name -> link relative to the report's folder


# --- numbers derived from the outputs ---------------------------------------------------------------

def confusion_counts(outputs):
    """The test confusion matrix from plots/predictions.csv (rows: actual class, columns: predicted)."""
    predictions, count = outputs.predictions, len(outputs.class_names)
    if not predictions[["actual", "predicted"]].isin(range(count)).all(axis=None):
        raise ReportInputError(f"{PREDICTIONS_PLOT}: class indices outside 0..{count - 1}; "
                               "rerun the evaluate stage")
    return confusion_matrix(predictions["actual"].to_numpy(), predictions["predicted"].to_numpy(), count)


def top_confusions(counts, class_names, limit=CONFUSION_COUNT):
    """[(actual name, predicted name, count)] of the most frequent mistakes, most frequent first."""
    errors = np.where(np.eye(len(counts), dtype=bool), 0, counts).ravel()
    order = np.argsort(-errors, kind="stable")[:limit]
    return [(class_names[i // len(counts)], class_names[i % len(counts)], int(errors[i]))
            for i in order if errors[i] > 0]


def hardest_classes(per_class_accuracy, limit=HARDEST_COUNT):
    """The `limit` class names with the lowest test accuracy, lowest first."""
    return sorted(per_class_accuracy, key=per_class_accuracy.get)[:limit]


def epoch_row(history, epoch):
    """The history row of `epoch`; ReportInputError if the history has none."""
    rows = history[history["epoch"] == epoch]
    if rows.empty:
        raise ReportInputError(f"{HISTORY_PLOT}: no row for epoch {epoch} named in {TRAIN_METRICS}; "
                               "rerun the train stage")
    return rows.iloc[0]


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


# --- Markdown helpers ---------------------------------------------------------------------------------

def table(header, rows, align):
    """A Markdown table; `align` has one letter per column, l (left) or r (right)."""
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def pct(value):
    return f"{value:.2%}"


def shape(dims):
    return " × ".join(str(d) for d in dims)


def image(outputs, name):
    return f"![{FIGURES[name]}]({outputs.figures[name]})"


# --- the report ---------------------------------------------------------------------------------------

def render_report(outputs):
    """reports/report.md: dataset, architecture, training setup, results, overfitting, speed, next steps."""
    counts = confusion_counts(outputs)
    sections = [_title(outputs), _dataset(outputs), _architecture(outputs), _training_setup(outputs),
                _results(outputs, counts), _overfitting(outputs), _speed(outputs), _next_steps(outputs, counts)]
    return "\n\n".join(sections) + "\n"


def _title(outputs):
    ev = outputs.evaluation
    return (f"# {outputs.dataset_name} CNN: run report\n\n"
            "_Generated by `stages/report.py` from the pipeline's outputs (`metrics/`, `plots/`, "
            "`models/model.keras`, `params.yaml`); `dvc repro` rewrites it. See also the "
            "[model card](model_card.md)._\n\n"
            f"**Test accuracy {pct(ev['test_accuracy'])}** ({ev['misclassified']:,} of "
            f"{outputs.dataset['test']['total']:,} test images misclassified), macro F1 {ev['macro_f1']:.4f}.")


def _dataset(outputs):
    data, names = outputs.dataset, outputs.class_names
    train_total = data["train"]["total"] + data["val"]["total"]
    rows = [[name, *(f"{data[split][name]:,}" for split in SPLITS)] for name in names]
    rows.append(["**total**", *(f"**{data[split]['total']:,}**" for split in SPLITS)])
    return ("## Dataset\n\n"
            f"{outputs.dataset_name}, from the four IDX files the download stage verified by SHA-256. "
            f"The {train_total:,} official training images are split, stratified by class, into train and "
            f"validation ({pct(data['val']['total'] / train_total)} validation); the "
            f"{data['test']['total']:,} official test images are the test split, used only by evaluate. "
            "Images per class (`metrics/dataset.json`):\n\n"
            + table(["class", "train", "validation", "test"], rows, "lrrr"))


def _architecture(outputs):
    model = outputs.model
    rows = [[f"`{name}`", kind, shape(dims), f"{params:,}"] for name, kind, dims, params in model.layers]
    layers_of = "`models/model.keras`"
    if model.members > 1:
        layers_of = (f"each of its {model.members} members (`member1` to `member{model.members}`, "
                     f"{member_training(outputs.train_params)}; the model averages their outputs)")
    return ("## Architecture\n\n"
            f"`{model.name}` takes {shape(model.input_shape)} images and outputs one probability per class "
            f"({len(outputs.class_names)}). Layers of {layers_of} (output shape per image):\n\n"
            + table(["layer", "type", "output shape", "parameters"], rows, "llrr")
            + f"\n\n{model.parameters:,} parameters: {model.trainable:,} trained, "
              f"{model.parameters - model.trainable:,} not trained (BatchNorm moving statistics).\n\n"
            + image(outputs, "filters.png"))


def describe_schedule(train):
    warmup = train["warmup_epochs"]
    after = "cosine decay to 0 at the last step" if train["schedule"] == "cosine" else "constant"
    ramp = f"linear warm-up over {warmup} epoch{'s' * (warmup != 1)}, then " if warmup else ""
    return f"peak learning rate {train['learning_rate']:g}; {ramp}{after}"


def describe_augmentation(augment):
    if not any(augment.values()):
        return "none"
    return (f"per image, a random rotation up to ±{augment['rotation_deg']:g}°, zoom up to "
            f"±{augment['zoom']:.0%} and shift up to ±{augment['shift_px']:g} px")


def describe_test_time_augmentation(shift_px):
    if shift_px == 0:
        return "one per test image"
    return (f"averaged over each test image and 4 copies shifted {shift_px} px right, left, down and up "
            "(test-time augmentation)")


def member_training(train):
    """How an ensemble's members were trained (`train.ensemble_split`)."""
    how = "trained with consecutive seeds"
    if train["ensemble_split"] == "folds":
        how += ", each on its own cross-validation fold of the training and validation images"
    elif train["ensemble_split"] == "all":
        how += ", the first on the train split and the others on all the training and validation images"
    return how


def ensemble_note(members, train):
    return "" if members == 1 else f", an ensemble that averages {members} such networks {member_training(train)},"


def tta_sentence(shift_px):
    if shift_px == 0:
        return "The test metrics come from one prediction per image, as does `predict.py`."
    return (f"The test metrics average the outputs for each image and for 4 copies of it shifted {shift_px} px "
            "(test-time augmentation), and so does `predict.py`.")


def _training_setup(outputs):
    train, num_classes = outputs.train_params, len(outputs.class_names)
    steps = math.ceil(outputs.dataset["train"]["total"] / train["batch_size"])
    rows = [["epochs", train["epochs"]],
            ["batch size", f"{train['batch_size']} ({steps:,} steps per epoch)"],
            ["optimizer", train["optimizer"]],
            ["schedule", describe_schedule(train)],
            ["label smoothing", f"{train['label_smoothing']:g} (lowest reachable loss "
                                f"{smoothed_loss_floor(train['label_smoothing'], num_classes):.4f})"],
            ["augmentation", describe_augmentation(train["augment"])],
            ["precision", train["precision"]],
            ["seed", train["seed"]]]
    return ("## Training setup\n\nFrom the `train` section of `params.yaml`:\n\n"
            + table(["setting", "value"], rows, "ll"))


def most_confused_with(counts, i, class_names):
    """(class name, count) of the wrong class that images of class i are most often predicted as."""
    errors = counts[i].copy()
    errors[i] = 0
    return class_names[errors.argmax()], int(errors.max())


def _confused_cell(counts, i, class_names):
    other, count = most_confused_with(counts, i, class_names)
    return f"{other} ({count})" if count else "–"


def _results(outputs, counts):
    ev, names = outputs.evaluation, outputs.class_names
    per_class = ev["per_class_accuracy"]
    headline = [["test accuracy", pct(ev["test_accuracy"])],
                ["test loss (cross-entropy, no smoothing)", f"{ev['test_loss']:.4f}"],
                ["macro precision", f"{ev['macro_precision']:.4f}"],
                ["macro recall", f"{ev['macro_recall']:.4f}"],
                ["macro F1", f"{ev['macro_f1']:.4f}"],
                ["misclassified", f"{ev['misclassified']:,}"],
                ["predictions", describe_test_time_augmentation(outputs.test_time_shift_px)]]
    images, correct, predicted = counts.sum(axis=1), counts.diagonal(), counts.sum(axis=0)
    rows = [[name, f"{images[i]:,}", f"{correct[i]:,}", pct(per_class[name]),
             pct(correct[i] / predicted[i] if predicted[i] else 0.0), _confused_cell(counts, i, names)]
            for i, name in enumerate(names)]
    wrong = dict(zip(names, images - correct))
    hardest = [f"{name} ({pct(per_class[name])}, {wrong[name]:,} wrong)" for name in hardest_classes(per_class)]
    confusions = [f"- {actual} → {predicted}: {n}" for actual, predicted, n in top_confusions(counts, names)]
    confidence = [f"{median:.3f} when {kind}" for kind, median in
                  (("right", median_confidence(outputs.predictions, True)),
                   ("wrong", median_confidence(outputs.predictions, False))) if median is not None]
    return ("## Results\n\nOn the test split (`metrics/evaluate.json`):\n\n"
            + table(["metric", "value"], headline, "lr")
            + "\n\n### Per class\n\nAccuracy is the class's recall (`metrics/evaluate.json`); the other columns "
              "count the rows of `plots/predictions.csv`.\n\n"
            + table(["class", "test images", "correct", "accuracy", "precision", "most often taken for"], rows,
                    "lrrrrl")
            + f"\n\nHardest classes: {', '.join(hardest)}.\n\n"
            + "Most common confusions (actual → predicted: count):\n\n"
            + ("\n".join(confusions) or "- none: every test image is classified correctly")
            + f"\n\nMedian confidence: {', '.join(confidence)}.\n\n"
            + image(outputs, "confusion_matrix.png") + " " + image(outputs, "per_class_accuracy.png") + "\n\n"
            + image(outputs, "mistakes.png") + "\n\n" + image(outputs, "sample_predictions.png"))


def accuracy_gap(row):
    """Training minus validation accuracy of one history row, in percentage points."""
    return (row["accuracy"] - row["val_accuracy"]) * 100


def _overfitting(outputs):
    history, train = outputs.history, outputs.train_params
    best, final = epoch_row(history, outputs.train["best_epoch"]), history.iloc[-1]
    labelled = [("best validation accuracy", best), ("final", final)]
    if best["epoch"] == final["epoch"]:
        labelled = [("best validation accuracy and final", final)]
    rows = [[f"{int(row['epoch'])} ({label})", pct(row["accuracy"]), pct(row["val_accuracy"]),
             f"{accuracy_gap(row):+.2f} pt", f"{row['loss']:.4f}", f"{row['val_loss']:.4f}"]
            for label, row in labelled]
    floor = smoothed_loss_floor(train["label_smoothing"], len(outputs.class_names))
    lowest_loss = history.loc[history["val_loss"].idxmin()]
    test_gap = (outputs.evaluation["test_accuracy"] - final["val_accuracy"]) * 100
    return ("## Overfitting check\n\nFrom `plots/history.csv`. Training metrics are averaged over the epoch's "
            "batches, which are augmented and seen with dropout active; validation metrics are measured on "
            "clean images in inference mode.\n\n"
            + table(["epoch", "train accuracy", "validation accuracy", "gap (train − validation)", "train loss",
                     "validation loss"], rows, "lrrrrr")
            + f"\n\n- {fit_verdict(final)}\n"
              f"- Validation loss was lowest at epoch {int(lowest_loss['epoch'])} ({lowest_loss['val_loss']:.4f}). "
              f"Both losses include label smoothing {train['label_smoothing']:g}, so they cannot go below "
              f"{floor:.4f}; the final validation loss is {final['val_loss'] - floor:.4f} above that floor.\n"
              f"- Test accuracy is {abs(test_gap):.2f} pt {'below' if test_gap < 0 else 'above'} the final "
              "validation accuracy.\n\n"
            + image(outputs, "accuracy.png") + " " + image(outputs, "loss.png"))


def fit_verdict(final):
    """One sentence on over- or underfitting from the final epoch's train and validation accuracy."""
    gap = accuracy_gap(final)
    if gap > OVERFIT_GAP_PT:
        return (f"Training accuracy ends {gap:.2f} pt above validation accuracy, even with augmentation and "
                "dropout: the model overfits the training images.")
    return (f"Training accuracy ends {abs(gap):.2f} pt {'below' if gap < 0 else 'above'} validation accuracy: "
            "no sign of overfitting.")


def _speed(outputs):
    speed, seconds = outputs.train_speed, outputs.history["seconds"]
    epochs = f"first {seconds.iloc[0]:.1f} s (includes building the graph)"
    if len(seconds) > 1:
        epochs += f", then {seconds.iloc[1:].mean():.1f} s on average"
    rows = [["training time", f"{speed['training_seconds']:,.1f} s ({speed['training_seconds'] / 60:.1f} min) "
                              f"for {len(seconds)} epochs"],
            ["time per epoch", epochs],
            ["training throughput", f"{speed['train_images_per_second']:,.0f} images/s"],
            ["peak memory of training", f"{speed['peak_memory_mib']:,.0f} MiB"],
            ["evaluation throughput", f"{outputs.evaluate_speed['eval_images_per_second']:,.0f} images/s"]]
    return ("## Run time and throughput\n\nFrom `metrics/train_speed.json`, `metrics/evaluate_speed.json` and the "
            "`seconds` column of `plots/history.csv`; these vary from run to run and machine to machine.\n\n"
            + table(["measure", "value"], rows, "lr"))


def suggestions(outputs, counts):
    """What to try next, one sentence each, from the history, the accuracy gap and the confusions."""
    history, names = outputs.history, outputs.class_names
    final, best_epoch = history.iloc[-1], outputs.train["best_epoch"]
    best = epoch_row(history, best_epoch)
    last = int(final["epoch"])
    if best_epoch == last:
        items = [f"Validation accuracy was highest at the last epoch ({last}), so it may still be improving: "
                 f"train longer, e.g. `dvc exp run -S train.epochs={2 * last}`."]
    else:
        moved = round((best["val_accuracy"] - final["val_accuracy"]) * outputs.dataset["val"]["total"])
        after = "the last epoch" if last - best_epoch == 1 else f"the last {last - best_epoch} epochs"
        items = [f"Validation accuracy peaked at epoch {best_epoch} of {last}; {after} "
                 f"changed it by {moved} validation image{'s' * (moved != 1)}, so more epochs on this "
                 "schedule are unlikely to help. Compare seeds (`-S train.seed=...`) before trusting a "
                 "difference of this size."]
    if accuracy_gap(final) > OVERFIT_GAP_PT:
        items.append("The model overfits: try stronger augmentation (`train.augment`) or more dropout "
                     "(`model.dropout`).")
    else:
        items.append("The model does not overfit, so it has room for more capacity (more filters or convolutions "
                     "in `model.conv_blocks`, more `model.dense_units`) before needing more regularisation.")
    errors = int(counts.sum() - counts.trace())
    if errors:
        top = top_confusions(counts, names)
        hardest = " and ".join(_mistaken_as(counts, name, names)
                               for name in hardest_classes(outputs.evaluation["per_class_accuracy"], 2))
        items.append(f"Look at classes {hardest}; [the most confident mistakes]({outputs.figures['mistakes.png']}) "
                     "show what they look like. "
                     f"The {len(top)} commonest confusions make up {sum(n for *_, n in top)} of the {errors} "
                     "mistakes; more augmentation of those shapes or a look at their images may pay off.")
    return items


def _mistaken_as(counts, name, class_names):
    i = class_names.index(name)
    other, count = most_confused_with(counts, i, class_names)
    wrong = counts[i].sum() - counts[i, i]
    return f"{name} ({count} of its {wrong} mistakes read as {other})" if wrong else f"{name} (no mistakes)"


def _next_steps(outputs, counts):
    return "## What to try next\n\n" + "\n".join(f"- {item}" for item in suggestions(outputs, counts))


# --- the model card ----------------------------------------------------------------------------------

def render_model_card(outputs):
    """reports/model_card.md: details, input and output, intended use, metrics, limitations, how to use."""
    ev, model, data, names = outputs.evaluation, outputs.model, outputs.dataset, outputs.class_names
    train = outputs.train_params
    layer_types = [kind for _, kind, _, _ in model.layers]
    worst = hardest_classes(ev["per_class_accuracy"], 1)[0]
    typical = median_confidence(outputs.predictions, True)
    input_shape = ", ".join(str(d) for d in model.input_shape)
    return f"""# Model card: {outputs.dataset_name} digit classifier (`models/model.keras`)

_Generated by `stages/report.py` from the pipeline's outputs; the full numbers are in the [run report](report.md)._

## Model details

- `{model.name}`: a Keras 3 convolutional network ({layer_types.count("Conv2D")} convolutions with \
{"BatchNorm, " if "BatchNormalization" in layer_types else ""}max-pooling, {layer_types.count("Dense")} dense layers, \
softmax output){ensemble_note(model.members, train)} with {model.parameters:,} parameters; layer table in the \
[run report](report.md#architecture).
- Trained by the `train` stage of this repository's DVC pipeline on {data["train"]["total"]:,} {outputs.dataset_name} \
training images (validated on {data["val"]["total"]:,} more), seeded and deterministic on one machine:
  - {train["epochs"]} epochs of batch size {train["batch_size"]}, optimizer {train["optimizer"]}, \
{describe_schedule(train)};
  - label smoothing {train["label_smoothing"]:g}; augmentation: {describe_augmentation(train["augment"])}.

## Input

- A float32 array of shape (N, {input_shape}): N greyscale {shape(model.input_shape[:2])} images, pixel values in \
[0, 1] (the 8-bit value divided by 255).
- A white (1.0) digit on a black (0.0) background, like MNIST: the digit fits a 20 × 20 box and is centred in \
the 28 × 28 image by its centre of mass.
- One digit per image. Dark ink on light paper must be inverted, and a photo must be cropped, centred and \
scaled first: `predict.py` does all of that (see below).

## Output

An (N, {len(names)}) array of softmax probabilities in the order of `dataset.class_names` ({", ".join(names)}); \
the predicted class is the argmax. {tta_sentence(outputs.test_time_shift_px)} With label smoothing \
{train["label_smoothing"]:g} the model is not trained towards probability 1.0: the median confidence of its correct \
test answers is {typical:.3f}. Use the confidence to rank answers, not as a calibrated probability.

## Preprocessing in the pipeline

The `preprocess` stage reads the IDX files, divides pixels by 255 (no mean or contrast normalisation), adds \
the channel axis and splits the official training set, stratified by class and seeded, into train and \
validation. Augmentation during training only: {describe_augmentation(train["augment"])}.

## Intended use

- Classifying single handwritten digits 0–9 prepared as above, for teaching, demos and experiments.
- A reference point for experiments with the pipeline (`dvc exp run -S ...`) and a tested example of a \
reproducible training pipeline.

## Out of scope

- Decisions that matter without a person checking: cheques, postal codes, forms, identity documents.
- Several digits, letters or other symbols in one image, digits of other scripts, printed or typed digits.
- Raw photos or scans that have not been prepared as described under Input.

## Metrics

On the {data["test"]["total"]:,} {outputs.dataset_name} test images (`metrics/evaluate.json`):

{table(["metric", "value"], [["accuracy", pct(ev["test_accuracy"])], ["macro F1", f"{ev['macro_f1']:.4f}"],
                              ["misclassified", f"{ev['misclassified']:,}"],
                              [f"lowest class accuracy (class {worst})", pct(ev["per_class_accuracy"][worst])],
                              ["best validation accuracy", pct(outputs.train["best_val_accuracy"])]], "lr")}

## Limitations

- MNIST's digits come from one population of writers, US Census Bureau employees and American high-school \
students (NIST Special Databases 3 and 1). Other handwriting styles, pens and scanners may be classified \
less accurately than the test set suggests.
- It expects one centred digit of MNIST's size and stroke width. Off-centre, tiny, rotated or very thick or \
thin digits, and ordinary photos fed in as they are, are often misread; run photos through \
`predict.py` (which uses `mnist_pipeline/imageprep.py` to crop, centre and scale them the MNIST way).
- It always answers one of the {len(names)} classes, even for an image that is not a digit.
- Class {worst} is the hardest (see the per-class table in the [run report](report.md#per-class)).

## How to use

```python
import keras
model = keras.models.load_model("models/model.keras")
probabilities = model.predict(images)  # images: float32 (N, {input_shape}) as described under Input
digits = probabilities.argmax(axis=1)
```

The file holds the trained weights compiled with Keras's standard sparse categorical cross-entropy, so \
plain Keras loads it. `mnist_pipeline.model.load_model` loads it in safe mode and also checks its input \
and output shapes.

Or, from the repository root, classify your own pictures (PNG, JPEG, ...; any size, dark or light ink):

```
python predict.py my_digit.png
```
"""

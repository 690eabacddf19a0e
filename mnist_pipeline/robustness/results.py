"""The robustness summary written to metrics/robustness.json: accuracy on the clean test subset, per
corruption and per picture style, and their means.

`summary` takes the true labels and the predicted classes (NumPy arrays) and returns a JSON-ready dict; it
reads and writes no files. The headline is the mean over the corruptions the training augmentation does not
do in kind (suite.in_training lists those it excludes).
"""
import numpy as np


def accuracy(labels, predicted):
    """Share of `predicted` classes equal to `labels`, as a float rounded to 6 places."""
    return round(float(np.mean(np.asarray(predicted) == np.asarray(labels))), 6)


def mean(values):
    return round(float(np.mean(list(values))), 6)


def summary(seed, labels, clean, corrupted, excluded, style_labels, style_clean, styled, readable):
    """The metrics: `clean` and each of `corrupted` {name: predicted} are predictions for `labels`; `excluded`
    {corruption: the train.augment field doing it in kind} are left out of the headline mean;
    `style_clean` and each of `styled` {name: predicted} for `style_labels` (the first images of the subset),
    `readable` {style: bool per picture} says which pictures the preparation accepted."""
    corruptions = {name: accuracy(labels, predicted) for name, predicted in corrupted.items()}
    unseen = [value for name, value in corruptions.items() if name not in excluded]
    styles = {name: accuracy(style_labels, predicted) for name, predicted in styled.items()}
    return {
        "seed": seed, "images": len(labels), "clean_accuracy": accuracy(labels, clean),
        "corruptions": corruptions, "corruption_mean_accuracy": mean(corruptions.values()),
        "headline_mean_accuracy": mean(unseen),
        "headline_excludes": {name: field for name, field in excluded.items() if name in corruptions},
        "style_images": len(style_labels), "style_clean_accuracy": accuracy(style_labels, style_clean),
        "styles": styles, "style_mean_accuracy": mean(styles.values()),
        "style_unreadable": {name: int(np.sum(~flags)) for name, flags in readable.items()},
    }

"""Ensembles: which images each member network trains and validates on, and `train_ensemble`.

Reads the `model` and `train` params (schema.Model, schema.Train; `train.ensemble`, `train.ensemble_split`)
and the train and validation (x, y) arrays; trains the members one after another with mnist_pipeline.training
and returns the model averaging them (mnist_pipeline.model.average_models) with one history per member.
"""
import numpy as np

from mnist_pipeline.model import average_models
from mnist_pipeline.training import train_model


def fold_split(train_data, val_data, fold, seed):
    """The (train, validation) data of cross-validation fold `fold` (0-based) over the training + validation images.

    Fold 0 is the given split. Fold k > 0 validates on the k-th run of len(val) images in a seeded shuffle of the
    training images (wrapping round), and trains on the rest of them plus the validation images; with a 20%
    validation split, folds 0-4 hold out each image exactly once.
    """
    if fold == 0:
        return train_data, val_data
    (x_train, y_train), (x_val, y_val) = train_data, val_data
    order = np.random.default_rng(seed).permutation(len(x_train))
    held = np.zeros(len(x_train), dtype=bool)
    held[order[np.arange((fold - 1) * len(x_val), fold * len(x_val)) % len(x_train)]] = True
    return ((np.concatenate([x_train[~held], x_val]), np.concatenate([y_train[~held], y_val])),
            (x_train[held], y_train[held]))


def member_split(train_data, val_data, member, ensemble_split, seed):
    """(train data, validation data, what it trains on) of ensemble member `member` (0-based).

    Member 0 uses the given split. With `train.ensemble_split` `same` so do the others; with `folds` member i
    uses cross-validation fold i (see `fold_split`); with `all` the others train on every training and
    validation image and are still validated on the validation split, which they then have seen
    (`validation_held_out` says which members' validation figures are true ones).
    """
    if not validation_held_out(member, ensemble_split):
        (x_train, y_train), (x_val, y_val) = train_data, val_data
        return (np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])), val_data, "train + val"
    if member > 0 and ensemble_split == "folds":
        return *fold_split(train_data, val_data, member, seed), f"fold {member + 1}"
    return train_data, val_data, "the train split"


def validation_held_out(member, ensemble_split):
    """Whether ensemble member `member` (0-based) is validated on images it did not train on."""
    return member == 0 or ensemble_split != "all"


def member_train_images(n_train, n_val, member, ensemble_split):
    """How many images ensemble member `member` (0-based) trains on, of `n_train` train and `n_val` validation."""
    return n_train if validation_held_out(member, ensemble_split) else n_train + n_val


def train_ensemble(model_params, train, num_classes, train_data, val_data, callbacks=(), verbose="auto",
                   checkpoint_dir=None, training_log=None):
    """Trains `train.ensemble` networks with seeds seed, seed + 1, ... (one after another), as `train_model` does.

    The data of member i is `member_split`'s for `train.ensemble_split`.
    Returns (the model averaging their outputs, or the one network; one history DataFrame per member).
    With `checkpoint_dir`, member i checkpoints in its subfolder `member<i>` (the folder itself for a single
    network), so a killed run keeps its finished members and resumes the unfinished one.
    With `training_log` (a tracking.TrainingLog), each member's epochs are logged there under its own names.
    """
    count, models, logs = train.ensemble, [], []
    for i in range(count):
        member_dir = checkpoint_dir if checkpoint_dir is None or count == 1 else checkpoint_dir / f"member{i + 1}"
        member_train, member_val, trains_on = member_split(train_data, val_data, i, train.ensemble_split, train.seed)
        if count > 1:
            print(f"ensemble member {i + 1} of {count} (seed {train.seed + i}, {trains_on})")
        tracker = training_log.tracker(i + 1, validation_held_out(i, train.ensemble_split)) if training_log else None
        model, log = train_model(model_params, train.model_copy(update={"seed": train.seed + i}), num_classes,
                                 member_train, member_val, callbacks, verbose, member_dir, tracker)
        models.append(model)
        logs.append(log)
    return average_models(models), logs

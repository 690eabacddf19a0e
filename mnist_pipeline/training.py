"""The fit of one network: determinism and precision, the loss, the learning-rate schedule and optimizer,
the epoch callbacks, and `train_model`.

Reads the `model` and `train` params (schema.Model, schema.Train) and (x, y) arrays; returns the trained
model and its per-epoch history (paths.HISTORY_COLUMNS). The inputs come from mnist_pipeline.inputs;
each epoch's order, warps and dropout masks depend only on (seed, epoch), so a run is repeatable on the
same machine and a resumed run (mnist_pipeline.resume) ends bit-identical to an uninterrupted one.
"""
import math
import time

import numpy as np
import pandas as pd

from mnist_pipeline import resume
from mnist_pipeline.cluster import worker_count
from mnist_pipeline.distribute import make_strategy
from mnist_pipeline.inputs import training_dataset, validation_dataset
from mnist_pipeline.model import build_model
from mnist_pipeline.paths import HISTORY_COLUMNS
from mnist_pipeline.precision import resolve_precision
from mnist_pipeline.tf_runtime import keras, tf

# At most this many training steps run per call into the compiled graph: fewer Python round trips,
# identical results.
STEPS_PER_EXECUTION = 25


def configure(seed, precision):
    """Seeds Python, NumPy and TensorFlow, makes TF ops deterministic and sets the dtype policy."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(resolve_precision(precision))


@keras.saving.register_keras_serializable(package="mnist_pipeline")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy on integer labels, with label smoothing.

    Equals keras.losses.SparseCategoricalCrossentropy when `label_smoothing` is 0.
    """

    def __init__(self, label_smoothing=0.0, name="sparse_categorical_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        log_p = keras.ops.log(keras.ops.clip(y_pred, 1e-7, 1.0))
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        nll = -keras.ops.take_along_axis(log_p, labels[:, None], axis=-1)[:, 0]
        return (1 - self.label_smoothing) * nll - self.label_smoothing * keras.ops.mean(log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def learning_rate_schedule(train, steps_per_epoch):
    """Linear warm-up to `train.learning_rate`, then cosine decay to zero (or constant) over the run."""
    total = train.epochs * steps_per_epoch
    warmup = train.warmup_epochs * steps_per_epoch
    alpha = 0.0 if train.schedule == "cosine" else 1.0
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(train.learning_rate, total, alpha=alpha)
    return keras.optimizers.schedules.CosineDecay(0.0, total - warmup, alpha=alpha,
                                                  warmup_target=train.learning_rate, warmup_steps=warmup)


def make_optimizer(train, steps_per_epoch):
    """The optimizer named by `train.optimizer`, on the warm-up + decay schedule."""
    schedule = learning_rate_schedule(train, steps_per_epoch)
    if train.optimizer == "adamw":
        return keras.optimizers.AdamW(schedule, weight_decay=1e-4)
    return keras.optimizers.Adam(schedule)


def steps_per_execution(steps_per_epoch, strategy):
    """Steps per graph call: the largest divisor of the epoch's steps up to STEPS_PER_EXECUTION, so every
    epoch ends on a call boundary; 1 with several replicas, where Keras cannot run multi-step calls."""
    if strategy.num_replicas_in_sync > 1:
        return 1
    return max(n for n in range(1, STEPS_PER_EXECUTION + 1) if steps_per_epoch % n == 0)


# No stock callback does these jobs: keras.callbacks.LearningRateScheduler logs the rate but replaces the
# per-step schedule by one value per epoch (other results), and none times the epochs.
class EpochLog(keras.callbacks.Callback):
    """Adds the learning rate and the epoch's wall-clock seconds to the training logs (the history, the
    DVCLive tracker and the checkpoint all read them from there)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        logs["seconds"] = time.perf_counter() - self.start


# Keras has no callback that seeds the random layers per epoch (keras.utils.set_random_seed seeds once).
class EpochSeeds(keras.callbacks.Callback):
    """Re-seeds every random layer (dropout) at the start of each epoch from (seed, epoch).

    Epoch n then draws the same dropout masks whether the run started at epoch 1 or resumed at n.
    """

    def __init__(self, seed):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        for i, layer in enumerate(self.model.layers):
            generator = getattr(layer, "seed_generator", None)
            if generator is not None:
                generator.state.assign(np.array([self.seed * 1000 + i, epoch], dtype=generator.state.dtype))


def train_model(model_params, train, num_classes, train_data, val_data, callbacks=(), verbose="auto",
                checkpoint_dir=None, tracker=None):
    """Builds, compiles and fits the CNN; returns (model, per-epoch history as a DataFrame).

    `model_params` and `train` are the validated `model` and `train` sections (schema.Model, schema.Train);
    `train_data` and `val_data` are (x, y) arrays; `callbacks` are added to the epoch logger. With
    `checkpoint_dir`, every finished epoch is saved there and a killed run resumes from the last one
    (not in a multi-worker run: its workers could not agree on the epoch, so it starts afresh).
    The model trains under the tf.distribute strategy named by `train.strategy`; `train.batch_size`
    is the global batch, split across the replicas, and `train.learning_rate` applies to it as given.
    A `tracker` (tracking.EpochTracker) logs every epoch to DVCLive, the restored ones of a resumed run first.
    """
    (x_train, y_train), (x_val, y_val) = train_data, val_data
    strategy = make_strategy(train.strategy)  # first: a multi-worker strategy must precede any op
    if worker_count() > 1 and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        checkpoint_dir = None
    configure(train.seed, train.precision)
    steps_per_epoch = math.ceil(len(x_train) / train.batch_size)
    run_id = resume.fingerprint(model_params.model_dump(), train.model_dump(), num_classes, len(x_train), len(x_val))
    with strategy.scope():  # the model's variables are created (or restored) once per replica
        restored = resume.restore(checkpoint_dir, run_id) if checkpoint_dir else None
        if restored:
            model, start_epoch, past = restored
            print(f"resuming from the checkpoint of epoch {start_epoch} in {checkpoint_dir}")
        else:
            model, start_epoch, past = build_model(model_params, num_classes), 0, []
            model.compile(optimizer=make_optimizer(train, steps_per_epoch),
                          loss=SmoothedSparseCrossentropy(train.label_smoothing),
                          metrics=["accuracy"], steps_per_execution=steps_per_execution(steps_per_epoch, strategy))
    callbacks = [EpochLog(), EpochSeeds(train.seed), *callbacks]
    if tracker:
        tracker.log_epochs(past)  # the log starts empty (tracking.py stages it anew): the checkpoint's epochs go back in
        callbacks.append(tracker)
    if checkpoint_dir:
        callbacks.append(resume.EpochCheckpoint(checkpoint_dir, run_id, past))
    data = training_dataset(x_train, y_train, train.batch_size, train.augment, train.seed, train.epochs, start_epoch)
    history = model.fit(data, initial_epoch=start_epoch, epochs=train.epochs,
                        steps_per_epoch=steps_per_epoch, validation_data=validation_dataset(x_val, y_val, 1000),
                        shuffle=False, callbacks=callbacks, verbose=verbose)
    log = pd.DataFrame(history.history)
    log.insert(0, "epoch", range(start_epoch + 1, start_epoch + len(log) + 1))
    log = pd.concat([pd.DataFrame(past), log], ignore_index=True) if past else log
    return model, log[list(HISTORY_COLUMNS)]

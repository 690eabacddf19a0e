"""Training: determinism, precision, the loss, the learning-rate schedule, the tf.data input, the fit.

The input pipeline shuffles and applies a random affine warp (rotation, zoom, shift) per image with
stateless random ops; each epoch's order, warps and dropout masks depend only on (seed, epoch), so
a run is repeatable on the same machine and a resumed run matches an uninterrupted one.
"""
import math
import time

import numpy as np
import pandas as pd

from mnist_pipeline import resume
from mnist_pipeline.distribute import make_strategy, worker_count
from mnist_pipeline.model import average_models, build_model
from mnist_pipeline.paths import HISTORY_COLUMNS
from mnist_pipeline.precision import resolve_precision
from mnist_pipeline.tf_runtime import keras, tf

# At most this many training steps run per call into the compiled graph: fewer Python round trips,
# identical results.
STEPS_PER_EXECUTION = 25
# Training batches prepared ahead of the one in use.
PREFETCH_BATCHES = 2


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


def learning_rate_schedule(params, steps_per_epoch):
    """Linear warm-up to `learning_rate`, then cosine decay to zero (or constant) over the run."""
    total = params["epochs"] * steps_per_epoch
    warmup = params["warmup_epochs"] * steps_per_epoch
    alpha = 0.0 if params["schedule"] == "cosine" else 1.0
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(params["learning_rate"], total, alpha=alpha)
    return keras.optimizers.schedules.CosineDecay(0.0, total - warmup, alpha=alpha,
                                                  warmup_target=params["learning_rate"], warmup_steps=warmup)


def make_optimizer(params, steps_per_epoch):
    """The optimizer named in params, on the warm-up + decay schedule."""
    schedule = learning_rate_schedule(params, steps_per_epoch)
    if params["optimizer"] == "adamw":
        return keras.optimizers.AdamW(schedule, weight_decay=1e-4)
    return keras.optimizers.Adam(schedule)


def random_affine(images, seed, augment):
    """Warps each image by its own random rotation, zoom and shift (bilinear, zero fill)."""
    n = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1:3], tf.float32)
    u = tf.random.stateless_uniform((n, 4), seed=seed, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * augment["rotation_deg"] * math.pi / 180
    scale = 1.0 + u[:, 1] * augment["zoom"]
    shift_x, shift_y = u[:, 2] * augment["shift_px"], u[:, 3] * augment["shift_px"]
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (size[1] - 1) / 2, (size[0] - 1) / 2
    # Maps each output pixel (x, y) back to the input pixel it samples.
    transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy + shift_x,
                           sin, cos, cy - sin * cx - cos * cy + shift_y,
                           tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")


def training_dataset(x, y, batch_size, augment, seed, epochs, start_epoch=0):
    """Shuffled, batched (and augmented, when any augment value is non-zero) training data for epochs
    `start_epoch` + 1 to `epochs`, then the end: nothing is left running in the background when the fit ends.

    Each epoch's order and warps depend only on (seed, epoch), so a run resumed at `start_epoch`
    sees exactly the batches an uninterrupted run would.
    """
    images, labels = tf.constant(x), tf.constant(y)
    warp = any(augment.values())

    def batch(epoch, step, indices):
        xb, yb = tf.gather(images, indices), tf.gather(labels, indices)
        if warp:
            xb = random_affine(xb, tf.stack([seed * 7919 + epoch, step]), augment)
        return xb, yb

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(len(x), dtype=tf.int64), seed=[seed, epoch])
        steps = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()
        return steps.map(lambda step, indices: batch(epoch, step, indices))

    batches = tf.data.Dataset.range(start_epoch, epochs).flat_map(epoch_batches)
    return batches.prefetch(PREFETCH_BATCHES).with_options(dataset_options())


def validation_dataset(x, y, batch_size):
    """The validation images in order, in batches of `batch_size`."""
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).with_options(dataset_options())


def dataset_options():
    """tf.data options of the fit's inputs: DATA sharding, and no autotuning.

    Under MultiWorkerMirroredStrategy every worker builds the same pipeline and keeps its own part of
    each global batch (DATA sharding), so the workers see different images in a repeatable order.
    tf.data's autotuner runs in a thread that wakes up at most once a minute, and the end of a fit
    waits for it: 0-60 s lost per fit, measured. A fixed prefetch keeps the epochs as fast.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.autotune.enabled = False
    return options


def steps_per_execution(steps_per_epoch, strategy):
    """Steps per graph call: the largest divisor of the epoch's steps up to STEPS_PER_EXECUTION, so every
    epoch ends on a call boundary; 1 with several replicas, where Keras cannot run multi-step calls."""
    if strategy.num_replicas_in_sync > 1:
        return 1
    return max(n for n in range(1, STEPS_PER_EXECUTION + 1) if steps_per_epoch % n == 0)


class EpochLog(keras.callbacks.Callback):
    """Adds the learning rate and the epoch's wall-clock seconds to the training logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        logs["seconds"] = time.perf_counter() - self.start


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


def train_model(model_params, train_params, num_classes, train_data, val_data, callbacks=(), verbose="auto",
                checkpoint_dir=None, tracker=None):
    """Builds, compiles and fits the CNN; returns (model, per-epoch history as a DataFrame).

    `train_data` and `val_data` are (x, y) arrays; `callbacks` are added to the epoch logger. With
    `checkpoint_dir`, every finished epoch is saved there and a killed run resumes from the last one
    (not in a multi-worker run: its workers could not agree on the epoch, so it starts afresh).
    The model trains under the tf.distribute strategy named by `train.strategy`; `train.batch_size`
    is the global batch, split across the replicas, and `train.learning_rate` applies to it as given.
    A `tracker` (tracking.EpochTracker) logs every epoch to DVCLive, the restored ones of a resumed run first.
    """
    (x_train, y_train), (x_val, y_val) = train_data, val_data
    strategy = make_strategy(train_params["strategy"])  # first: a multi-worker strategy must precede any op
    if worker_count() > 1 and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        checkpoint_dir = None
    configure(train_params["seed"], train_params["precision"])
    steps_per_epoch = math.ceil(len(x_train) / train_params["batch_size"])
    run_id = resume.fingerprint(model_params, train_params, num_classes, len(x_train), len(x_val))
    with strategy.scope():  # the model's variables are created (or restored) once per replica
        restored = resume.restore(checkpoint_dir, run_id) if checkpoint_dir else None
        if restored:
            model, start_epoch, past = restored
            print(f"resuming from the checkpoint of epoch {start_epoch} in {checkpoint_dir}")
        else:
            model, start_epoch, past = build_model(model_params, num_classes), 0, []
            model.compile(optimizer=make_optimizer(train_params, steps_per_epoch),
                          loss=SmoothedSparseCrossentropy(train_params["label_smoothing"]),
                          metrics=["accuracy"], steps_per_execution=steps_per_execution(steps_per_epoch, strategy))
    callbacks = [EpochLog(), EpochSeeds(train_params["seed"]), *callbacks]
    if tracker:
        tracker.log_epochs(past)  # DVC empties the log before a stage runs: the checkpoint's epochs go back in
        callbacks.append(tracker)
    if checkpoint_dir:
        callbacks.append(resume.EpochCheckpoint(checkpoint_dir, run_id, past))
    data = training_dataset(x_train, y_train, train_params["batch_size"], train_params["augment"],
                            train_params["seed"], train_params["epochs"], start_epoch)
    history = model.fit(data, initial_epoch=start_epoch, epochs=train_params["epochs"],
                        steps_per_epoch=steps_per_epoch, validation_data=validation_dataset(x_val, y_val, 1000),
                        shuffle=False, callbacks=callbacks, verbose=verbose)
    log = pd.DataFrame(history.history)
    log.insert(0, "epoch", range(start_epoch + 1, start_epoch + len(log) + 1))
    log = pd.concat([pd.DataFrame(past), log], ignore_index=True) if past else log
    return model, log[list(HISTORY_COLUMNS)]


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


def train_ensemble(model_params, train_params, num_classes, train_data, val_data, callbacks=(), verbose="auto",
                   checkpoint_dir=None, training_log=None):
    """Trains `train.ensemble` networks with seeds seed, seed + 1, ... (one after another), as `train_model` does.

    The data of member i is `member_split`'s for `train.ensemble_split`.
    Returns (the model averaging their outputs, or the one network; one history DataFrame per member).
    With `checkpoint_dir`, member i checkpoints in its subfolder `member<i>` (the folder itself for a single
    network), so a killed run keeps its finished members and resumes the unfinished one.
    With `training_log` (a tracking.TrainingLog), each member's epochs are logged there under its own names.
    """
    count, models, logs = train_params["ensemble"], [], []
    for i in range(count):
        member_dir = checkpoint_dir if checkpoint_dir is None or count == 1 else checkpoint_dir / f"member{i + 1}"
        member_train, member_val, trains_on = member_split(train_data, val_data, i, train_params["ensemble_split"],
                                                          train_params["seed"])
        if count > 1:
            print(f"ensemble member {i + 1} of {count} (seed {train_params['seed'] + i}, {trains_on})")
        tracker = (training_log.tracker(i + 1, validation_held_out(i, train_params["ensemble_split"]))
                   if training_log else None)
        model, log = train_model(model_params, {**train_params, "seed": train_params["seed"] + i}, num_classes,
                                 member_train, member_val, callbacks, verbose, member_dir, tracker)
        models.append(model)
        logs.append(log)
    return average_models(models), logs

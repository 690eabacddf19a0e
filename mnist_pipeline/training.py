"""Training machinery: determinism, precision, the loss, the learning-rate schedule, the tf.data input.

The input pipeline shuffles with a fixed seed and applies a random affine warp (rotation, zoom,
shift) per image with stateless random ops, so a run is repeatable on the same machine.
"""
import math
import time

import keras
import numpy as np
import tensorflow as tf


def configure(seed, precision):
    """Seeds Python, NumPy and TensorFlow, makes TF ops deterministic and sets the dtype policy."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(precision)


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


def training_dataset(x, y, batch_size, augment, seed):
    """Endless shuffled, batched (and augmented when any augment value is non-zero) training data."""
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size).repeat()
    if any(augment.values()):
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda batch, s: (random_affine(batch[0], s, augment), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class EpochLog(keras.callbacks.Callback):
    """Adds the learning rate and the epoch's wall-clock seconds to the training logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(np.asarray(optimizer.learning_rate))
        logs["seconds"] = time.perf_counter() - self.start

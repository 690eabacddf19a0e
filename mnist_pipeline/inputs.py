"""The fit's inputs: tf.data pipelines of the training and validation arrays, and the training augmentation.

Reads (x, y) arrays (images (N, 28, 28, 1) in [0, 1], integer labels) and the `train.augment` params; returns
tf.data datasets. The training pipeline shuffles and applies a random affine warp (rotation, zoom, shift) per
image with stateless random ops: each epoch's order and warps depend only on (seed, epoch), so a run is
repeatable on the same machine and a resumed run sees exactly the batches of an uninterrupted one.
"""
import math

from mnist_pipeline.tf_runtime import keras, tf

# Training batches prepared ahead of the one in use.
PREFETCH_BATCHES = 2


def random_affine(images, seed, augment):
    """Warps each image by its own random rotation, zoom and shift within `augment` (bilinear, zero fill)."""
    n = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1:3], tf.float32)
    u = tf.random.stateless_uniform((n, 4), seed=seed, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * augment.rotation_deg * math.pi / 180
    scale = 1.0 + u[:, 1] * augment.zoom
    shift_x, shift_y = u[:, 2] * augment.shift_px, u[:, 3] * augment.shift_px
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (size[1] - 1) / 2, (size[0] - 1) / 2
    # Maps each output pixel (x, y) back to the input pixel it samples.
    transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy + shift_x,
                           sin, cos, cy - sin * cx - cos * cy + shift_y,
                           tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
    return keras.ops.image.affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                                            fill_value=0, data_format="channels_last")


def training_dataset(x, y, batch_size, augment, seed, epochs, start_epoch=0):
    """Shuffled, batched (and augmented, when any `augment` value is non-zero) training data for epochs
    `start_epoch` + 1 to `epochs`, then the end: nothing is left running in the background when the fit ends.

    Each epoch's order and warps depend only on (seed, epoch), so a run resumed at `start_epoch`
    sees exactly the batches an uninterrupted run would.
    """
    images, labels = tf.constant(x), tf.constant(y)
    warp = any(augment.model_dump().values())

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

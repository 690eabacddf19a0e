"""The fit's inputs: tf.data pipelines of the training and validation arrays, and the training augmentation.

Reads (x, y) arrays (images (N, 28, 28, 1) in [0, 1], integer labels) and the `train.augment` params; returns
tf.data datasets. The training pipeline shuffles and augments each image (mnist_pipeline.augment) with
stateless random ops: each epoch's order and augmentation depend only on (seed, epoch), so a run is
repeatable on the same machine and a resumed run sees exactly the batches of an uninterrupted one.
"""
from mnist_pipeline.augment import augmented
from mnist_pipeline.tf_runtime import tf

# Training batches prepared ahead of the one in use.
PREFETCH_BATCHES = 2


def training_dataset(x, y, batch_size, augment, seed, epochs, start_epoch=0):
    """Shuffled, batched and augmented (mnist_pipeline.augment.augmented) training data for epochs
    `start_epoch` + 1 to `epochs`, then the end: nothing is left running in the background when the fit ends.

    Each epoch's order and augmentation depend only on (seed, epoch), so a run resumed at `start_epoch`
    sees exactly the batches an uninterrupted run would.
    """
    images, labels = tf.constant(x), tf.constant(y)

    def batch(epoch, step, indices):
        xb, yb = tf.gather(images, indices), tf.gather(labels, indices)
        return augmented(xb, tf.stack([seed * 7919 + epoch, step]), augment), yb

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

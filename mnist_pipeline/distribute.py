"""Picks the tf.distribute strategy that trains the model, and tells the chief worker from the others.

Reads `train.strategy` (auto | one_device | mirrored | multi_worker), the visible GPUs and the
standard TF_CONFIG environment variable (the cluster of a multi-worker run); writes nothing.
"""
import json
import os

from mnist_pipeline.tf_runtime import tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def tf_config():
    """The parsed TF_CONFIG environment variable ({} when unset or empty)."""
    return json.loads(os.environ.get("TF_CONFIG") or "{}")


def worker_count():
    """How many workers TF_CONFIG names (the chief is one of them); 1 without TF_CONFIG."""
    cluster = tf_config().get("cluster", {})
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def is_chief():
    """True for the process that writes the outputs: task type chief, or worker 0 when there is no chief."""
    config = tf_config()
    task = config.get("task", {})
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and task.get("index", 0) == 0


class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy that also takes the two reductions Keras 3's fit() asks of it.

    Keras 3.15 reduces the first (images, labels) batch across workers only to read its shapes, and
    reduces each step's scalar logs over axis 0; TensorFlow's multi-worker strategy refuses both
    (keras-team/keras#20585, tensorflow/tensorflow#72388). Here the first gets this worker's own
    batch (the same shapes), the second the mean across workers. Remove once Keras handles it.
    """

    def reduce(self, reduce_op, value, axis=None):
        if tf.nest.is_nested(value):
            return tf.nest.map_structure(lambda v: self.experimental_local_results(v)[0], value)
        if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
            axis = None
        return super().reduce(reduce_op, value, axis)


def make_strategy(name):
    """The strategy for `train.strategy`; `auto` picks multi-worker, multi-GPU or one device.

    Create it before TensorFlow runs any op: MultiWorkerMirroredStrategy sets up the cluster then.
    """
    if name == "auto":
        if worker_count() > 1:
            name = "multi_worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "one_device"
    if name == "multi_worker":
        return KerasMultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        return tf.distribute.get_strategy()
    raise ValueError(f"train.strategy = {name!r} is invalid; expected one of {', '.join(STRATEGIES)}")

"""Picks the tf.distribute strategy that trains the model, and tells the chief worker from the others.

Reads `train.strategy` (auto | one_device | mirrored | multi_worker), the visible GPUs and the
standard TF_CONFIG environment variable (the cluster of a multi-worker run, checked by
mnist_pipeline.cluster); writes nothing. In a multi-worker run every wait for another worker is bounded
by `train.worker_timeout_s`, and a worker that did not join or died ends the run with a ClusterError.
"""
from contextlib import contextmanager

from mnist_pipeline.cluster import ClusterError, tf_config, worker_count
from mnist_pipeline.stage import install_signal_handlers
from mnist_pipeline.tf_runtime import tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
PEER_FAILURES = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError)


def bound_cluster_waits(timeout_s):
    """Bounds TensorFlow's waits for the other workers of TF_CONFIG by `timeout_s` (after cluster.wait_for_peers).

    TensorFlow's coordination service then gives up on a worker that has not registered, or has sent no
    heartbeat, for `timeout_s`; without this it waits forever. Call before the strategy is made.
    """
    if worker_count() < 2:
        return
    from tensorflow.compiler.xla.tsl.protobuf.coordination_config_pb2 import CoordinatedJob
    from tensorflow.python.eager import context

    cluster = tf_config()["cluster"]
    leader = "chief" if "chief" in cluster else "worker"
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=f"/job:{leader}/replica:0/task:0",
        cluster_register_timeout_in_ms=timeout_s * 1000, heartbeat_timeout_in_ms=timeout_s * 1000,
        shutdown_barrier_timeout_in_ms=timeout_s * 1000,
        coordinated_jobs=[CoordinatedJob(name=job, num_tasks=len(addresses)) for job, addresses in cluster.items()])
    context.context().coordination_service.cluster_register_with_barrier = True  # else registration waits forever


@contextmanager
def peer_failures(timeout_s):
    """Turns TensorFlow's errors for a worker that did not register or stopped responding into a ClusterError."""
    try:
        yield
    except PEER_FAILURES as err:
        if worker_count() < 2:
            raise
        detail = next((line.strip() for line in str(err).splitlines() if "unhealthy" in line or "timed out" in line),
                      type(err).__name__)
        raise ClusterError(f"TF_CONFIG: a worker of the cluster did not join or stopped responding within "
                           f"train.worker_timeout_s = {timeout_s} s ({detail}); expected every worker running until "
                           "the end (restart them all)") from None


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
        strategy = KerasMultiWorkerMirroredStrategy()
        install_signal_handlers()  # TensorFlow's cluster replaced them: SIGTERM would only be logged
        return strategy
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        return tf.distribute.get_strategy()
    raise ValueError(f"train.strategy = {name!r} is invalid; expected one of {', '.join(STRATEGIES)}")

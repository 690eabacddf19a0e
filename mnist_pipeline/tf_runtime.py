"""TensorFlow and Keras, imported once under the project's start-up policy.

Every module takes them from here (`from mnist_pipeline.tf_runtime import keras, tf`), so the policy
lives in one place: TensorFlow's C++ start-up lines (CPU features, oneDNN, missing CUDA drivers,
absl's "log messages before InitializeLog") are written straight to file descriptor 2 while
TensorFlow loads and finds its devices, where no Python setting reaches them; they are discarded
unless the user sets TF_CPP_MIN_LOG_LEVEL, in which case TensorFlow's own filtering applies.
Python exceptions raised while importing still print as usual.
"""
import contextlib
import os

from mnist_pipeline.silence import stderr_discarded


quiet = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
if quiet:  # TensorFlow reads the level once, at its first C++ log line (during the import)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
try:
    with stderr_discarded() if quiet else contextlib.nullcontext():
        import keras  # noqa: E402
        import tensorflow as tf  # noqa: E402
        tf.config.list_physical_devices()  # device discovery (cuInit) logs at first use: do it now
finally:
    if quiet:  # not inherited: a child process (a stage under `dvc exp`, predict.py) applies the policy itself
        del os.environ["TF_CPP_MIN_LOG_LEVEL"]

__all__ = ["keras", "tf", "stderr_discarded"]

"""Shared code of the MNIST pipeline: params, IDX files, downloads, arrays, the model and training.

The scripts in `stages/` import these modules; no stage copies another's code. TensorFlow and Keras
are imported through `mnist_pipeline.tf_runtime`, which keeps their start-up lines out of the output.
"""

"""Shared code of the MNIST pipeline: params, IDX files, downloads, arrays, the model and training.

The scripts in `stages/` import these modules; no stage copies another's code.
"""
import os

# TensorFlow's C++ start-up chatter (CPU features, missing CUDA) hides the pipeline's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

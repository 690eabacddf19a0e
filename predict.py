"""Classifies pictures of handwritten digits (your own) with the pipeline's Keras model.

    python predict.py PATH [PATH ...] [--model models/model.tflite] [--format table|json|csv]
                      [--shift-px N] [--save-preprocessed DIR]

The command line lives in mnist_pipeline/predict/cli.py (see its docstring and docs/predict.md);
this file is its entry point at the repository root.
"""
import sys

from mnist_pipeline.predict.cli import main

if __name__ == "__main__":
    sys.exit(main())

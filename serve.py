"""Starts the demo: draw a digit in the browser, or send pictures to the HTTP API, on the trained model.

    python serve.py [--model models/model.tflite] [--host 127.0.0.1] [--port 8000]

Open the address it prints. The server lives in mnist_pipeline/serve/ (see docs/demo.md); this
file is its entry point at the repository root, beside predict.py.
"""
import sys

from mnist_pipeline.serve.cli import main

if __name__ == "__main__":
    sys.exit(main())

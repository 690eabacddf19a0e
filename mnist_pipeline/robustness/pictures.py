"""The test digits drawn as people's pictures and read back the way predict.py reads them.

`picture_inputs(digits, seed)` takes uint8 MNIST digits (n, 28, 28) and, for every style of
mnist_pipeline/predict/styles.py (STYLES, taken from that module as it stands), renders each digit in the
style, encodes it in the style's file format (JPEG artefacts and palettes included), decodes it and prepares
it with predict/prepare.py `prepare_readings`. It returns {style name: (float32 (n, 2, 28, 28) readings (as
adjusted, as drawn: predict/readings.py), readable (n,) bool)}; a picture the preparation refuses (ImageError: no
ink) is black and not readable.
Reads and writes no files. The styles run in parallel processes, one per core: drawing a digit 150-400 px
large and preparing it takes 0.1-0.5 s.
"""
import io

import numpy as np
from PIL import Image

from mnist_pipeline.predict.decode import ImageError
from mnist_pipeline.predict.prepare import prepare_readings
from mnist_pipeline.predict.styles import STYLES
from mnist_pipeline.robustness.suite import stream
from mnist_pipeline.workers import parallel_map


def read_back(style, digit, rng):
    """The (2, 28, 28) readings predict.py makes of `digit` drawn in `style` and saved in its format; None if
    refused."""
    buffer = io.BytesIO()
    style.render(digit, rng).save(buffer, Image.registered_extensions()[style.suffix], **style.save_options)
    buffer.seek(0)
    with Image.open(buffer) as img:
        img.load()
        try:
            return prepare_readings(img)
        except ImageError:
            return None


def style_inputs(job):
    """(readings, readable) of the digits in one style; job = (style index, digits, seed)."""
    index, digits, seed = job
    style = STYLES[index]
    rng = stream(seed, style.name)
    prepared = [read_back(style, digit, rng) for digit in digits]
    readable = np.array([image is not None for image in prepared])
    blank = np.zeros((2,) + digits.shape[1:], dtype=np.float32)
    return np.stack([blank if image is None else image for image in prepared]).astype(np.float32), readable


def picture_inputs(digits, seed):
    """{style name: (readings float32 (n, 2, 28, 28), readable (n,) bool)} for every style (see the docstring)."""
    results = parallel_map(style_inputs, [(index, digits, seed) for index in range(len(STYLES))])
    return {style.name: result for style, result in zip(STYLES, results)}

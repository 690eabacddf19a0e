"""Classifies uploaded pictures with predict.py's own preparation and model arithmetic, batching the model calls.

`prepare_upload(name, data, max_pixels, folder)` turns an upload's bytes into predict.py's two 28x28 readings
and their InkChecks (decode.load_image, pieces.prepare_with_checks on the bytes written to a
file in `folder`, so the server reads a picture exactly as predict.py reads the same file). `Batcher` gathers
the readings of requests that arrive together and makes one model call for them (`model_runner`: predict.py's
classify_inputs: probabilities of both readings and temperature, and its not-a-digit verdicts from the
classifier's heads: predict/rejection.py) on a thread of its own, off the event loop. `records(...)` gives predict.py's JSON
rows, with the ten probabilities and the 28x28 input added when asked for.
"""
import asyncio
import io
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from mnist_pipeline.predict.cli import classify_inputs
from mnist_pipeline.predict.decode import ImageError, load_image
from mnist_pipeline.predict.output import results
from mnist_pipeline.predict.pieces import InkChecks, prepare_with_checks
from mnist_pipeline.serve.uploads import RequestError


def prepare_upload(name, data, max_pixels, folder):
    """(the (2, 28, 28) float32 readings: prepare.prepare_readings, their InkChecks) of an uploaded picture;
    RequestError (422) names the problem."""
    pixels = header_pixels(data)
    if pixels > max_pixels:
        raise RequestError(422, f"{name}: too many pixels ({pixels:,}; the limit is {max_pixels:,} per image)")
    with tempfile.NamedTemporaryFile(dir=folder) as file:  # Pillow knows the format by the content
        file.write(data)
        file.flush()
        try:
            image = load_image(file.name)
            return prepare_with_checks(image)
        except ImageError as err:
            raise RequestError(422, f"{name}: {err.problem}") from None


def header_pixels(data):
    """Width x height from an image header (nothing is decoded); 0 where Pillow cannot read one, so
    that load_image names the problem."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.width * img.height
    except Exception:  # not an image, a damaged header, a decompression bomb: load_image says which
        return 0


def records(names, probabilities, judged, inputs, details, calibration):
    """predict.py's JSON rows (file = the upload's name) of calibrated `probabilities` and the not-a-digit verdicts
    `judged` (rejection.verdicts); with `details`, each also holds the ten `probabilities` and `input_28x28`, the
    model's input as 784 grey levels 0-255, row by row."""
    rows = results(names, probabilities, calibration)
    for row, verdict in zip(rows, judged):
        row.update(verdict)
    if details:
        for row, probs, digit in zip(rows, probabilities, inputs):
            row["probabilities"] = [float(p) for p in probs]
            row["input_28x28"] = np.round(digit * 255).astype(np.uint8).ravel().tolist()
    return rows


def model_runner(classify, shift_px, temperature, detector):
    """run(batch, checks): the (N, 10) calibrated probabilities of (N, 2, 28, 28) readings and their not-a-digit verdicts
    (one dict each, from their InkChecks `checks` and `detector`, None for none), computed as predict.py computes them
    (`classify`: predict.py's classifier, predict/runtime.py)."""
    return lambda batch, checks: classify_inputs(classify, batch, checks, shift_px, temperature, detector)


class Batcher:
    """Runs the model for requests that arrive together in one call, on one thread off the event loop.

    `await batcher.predict(inputs, checks)` returns what `run(batch, checks)` (see model_runner: probabilities and
    verdicts) gives for the (N, 2, 28, 28) readings and their N InkChecks, computed on the inputs of every request
    waiting and cut to this request's N. A request waits at most
    `window_s` for others to join it; requests that arrive while the model runs go into the next call.
    """

    def __init__(self, run, window_s=0.002):
        self.run = run
        self.window_s = window_s
        self.queue = asyncio.Queue()
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="model")
        self.worker = None

    async def predict(self, inputs, checks):
        """run's answers (each cut to N) for (N, 2, 28, 28) float32 readings and their N InkChecks, computed with other
        requests' inputs."""
        if self.worker is None:
            self.worker = asyncio.create_task(self.serve())
        answer = asyncio.get_running_loop().create_future()
        await self.queue.put((inputs, checks, answer))
        return await answer

    async def serve(self):
        """Forever: waits for a request, gathers those that arrive within the window, runs one model call."""
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self.queue.get()]
            await asyncio.sleep(self.window_s)
            while not self.queue.empty():
                waiting.append(self.queue.get_nowait())
            batch = np.concatenate([inputs for inputs, _, _ in waiting])
            checks = [check for _, request_checks, _ in waiting for check in request_checks]
            try:
                answers = await loop.run_in_executor(self.thread, self.run, batch, checks)
            except Exception as err:  # the model failed: every waiting request gets the error
                for _, _, answer in waiting:
                    answer.done() or answer.set_exception(err)
                continue
            start = 0
            for inputs, _, answer in waiting:
                if not answer.done():  # the client may have gone
                    answer.set_result(tuple(part[start:start + len(inputs)] for part in answers))
                start += len(inputs)

    def warm_up(self):
        """One model call on a blank picture, so the first request does not pay for building the graph."""
        self.run(np.zeros((1, 2, 28, 28), dtype=np.float32), [InkChecks(pieces=0, stroke_spread=1.0)])

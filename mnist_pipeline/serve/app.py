"""The web app: the drawing page and the HTTP API on one loaded model (Starlette, an ASGI framework).

    GET  /                    the page (static/index.html, with its script and style beside it)
    GET  /api/health          {"status": "ok", "model": {...}, "calibration": {...}, "not_a_digit": {...},
                               "shift_px": N, "limits": {...}}
    POST /api/predict         multipart image files -> predict.py's JSON records (with its not-a-digit fields),
                              one per file, in order
    POST /api/predict?details=1   the same, each with its ten probabilities and 28x28 input added

Every refusal is a 4xx answer whose JSON body is one line: {"error": "<file or request>: <problem>"}.
Pictures are prepared on a small thread pool (one thread per core), the model runs on its own thread.
"""
import asyncio
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mnist_pipeline.serve.classify import Batcher, model_runner, prepare_upload, records
from mnist_pipeline.serve.uploads import RequestError, read_uploads

STATIC = Path(__file__).parent / "static"


def create_app(model, shift_px, limits, card, calibration, detector):
    """The Starlette app serving `model` (loaded) with `limits` (uploads.Limits); `card` says which model it is,
    `calibration` (mnist_pipeline.calibration.Calibration) its temperature and unsure level, `detector` its
    not-a-digit detector (predict/rejection.read_detector; None: not checked)."""
    batcher = Batcher(model_runner(model, shift_px, calibration.temperature, detector))
    preparers = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="prepare")
    scratch = tempfile.TemporaryDirectory(prefix="mnist-serve-")
    health = {"status": "ok", "model": card, "calibration": calibration._asdict(),
              "not_a_digit": detector_card(detector), "shift_px": shift_px,
              "limits": asdict(limits)}

    async def page(request):
        return FileResponse(STATIC / "index.html")

    async def status(request):
        return JSONResponse(health)

    async def predict(request):
        uploads = await read_uploads(request, limits)
        loop = asyncio.get_running_loop()
        prepared = await asyncio.gather(*(loop.run_in_executor(preparers, prepare_upload, name, data,
                                                               limits.max_pixels, scratch.name)
                                          for name, data in uploads))
        readings = np.array([reading for reading, _ in prepared], dtype=np.float32)
        probabilities, judged = await batcher.predict(readings, [checks for _, checks in prepared])
        details = request.query_params.get("details", "") not in ("", "0", "false")
        return JSONResponse(records([name for name, _ in uploads], probabilities, judged, readings[:, 0], details,
                                    calibration))

    @asynccontextmanager
    async def lifespan(app):
        yield
        preparers.shutdown(cancel_futures=True)
        scratch.cleanup()

    routes = [Route("/", page), Route("/api/health", status), Route("/api/predict", predict, methods=["POST"]),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    handlers = {RequestError: refused, HTTPException: http_error, Exception: internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.batcher = batcher
    return app


def detector_card(detector):
    """What /api/health says of the not-a-digit detector: whether one is loaded, its method and threshold."""
    if detector is None:
        return {"checked": False, "method": None, "threshold": None,
                "note": "not checked: no not_a_digit.json fitted for this model file beside it"}
    return {"checked": True, "method": detector["method"], "threshold": round(detector["threshold"], 2), "note": ""}


async def refused(request, err):
    """A RequestError as its status and one-line JSON error."""
    return JSONResponse({"error": err.problem}, status_code=err.status)


async def http_error(request, err):
    """Starlette's own refusals (404, 405) as one-line JSON errors too."""
    return JSONResponse({"error": f"{request.url.path}: {err.detail}"}, status_code=err.status_code)


async def internal_error(request, err):
    """An unexpected failure: a 500 with its one-line cause; the server goes on serving."""
    return JSONResponse({"error": f"server: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"},
                        status_code=500)

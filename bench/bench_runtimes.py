"""Which runtime should serve the trained model: start-up, latency and agreement of Keras and its exports.

For each runtime, a fresh Python process (its own interpreter, e.g. another venv's, with --python)
imports the runtime, loads the model, answers one blank 28x28 input, then times 200 single-image
calls and one pass over the 10,000 prepared test images (batches of 256), and saves those
probabilities. Each phase is timed in wall seconds and in the process's CPU seconds (which a busy
machine does not inflate). Each runtime is run --repeats times; the table gives the median of each figure and
the agreement of the last run's probabilities with Keras on TensorFlow's (the trained model):
argmax disagreements and max |delta p| over the test split.

    python bench/bench_runtimes.py --keras models/model.keras --litert models/model.tflite \
        --onnx /tmp/model.onnx [--python keras_jax=/tmp/venv-jax/bin/python] [--json OUT]

Runtimes: keras_tf (Keras 3 on TensorFlow), litert (ai-edge-litert's interpreter on the export
stage's .tflite, whose signature gives `probabilities`), onnx (onnxruntime on a .onnx export), keras_jax (Keras 3 on JAX; needs --python with a
venv that has jax and keras).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TEST_IMAGES = ROOT / "data/prepared/x_test.npy"

# Each child prints one JSON line of timings; `classify(batch)` maps (N, 28, 28, 1) float32 to (N, 10).
LOADERS = {
    "keras_tf": ("os.environ['KERAS_BACKEND'] = 'tensorflow'\nimport keras",
                 "model = keras.models.load_model(MODEL, compile=False, safe_mode=True)\n"
                 "classify = lambda batch: np.asarray(model.predict_on_batch(batch))"),
    "keras_jax": ("os.environ['KERAS_BACKEND'] = 'jax'\nimport keras",
                  "model = keras.models.load_model(MODEL, compile=False, safe_mode=True)\n"
                  "classify = lambda batch: np.asarray(model.predict_on_batch(batch))"),
    "litert": ("from ai_edge_litert.interpreter import Interpreter",
               "runner = Interpreter(model_path=MODEL, num_threads=os.cpu_count()).get_signature_runner()\n"
               "classify = lambda batch: runner(image=batch)['probabilities']"),
    "onnx": ("import onnxruntime",
             "session = onnxruntime.InferenceSession(MODEL, providers=['CPUExecutionProvider'])\n"
             "name = session.get_inputs()[0].name\n"
             "classify = lambda batch: session.run(None, {name: batch})[0]"),
}

CHILD = """
import os, time, json
clock = lambda: (time.perf_counter(), time.process_time())
started = clock()
import numpy as np
MODEL, IMAGES, OUT = {model!r}, {images!r}, {out!r}
t0 = clock()
{imports}
t1 = clock()
{load}
t2 = clock()
classify(np.zeros((1, 28, 28, 1), np.float32))
t3 = clock()
images = np.load(IMAGES).reshape(-1, 28, 28, 1).astype(np.float32)
single = []
cpu = time.process_time()
for i in range(200):
    s = time.perf_counter()
    classify(images[i:i + 1])
    single.append(time.perf_counter() - s)
single_cpu = (time.process_time() - cpu) / 200
s = clock()
probabilities = np.concatenate([classify(images[i:i + 256]) for i in range(0, len(images), 256)])
e = clock()
np.save(OUT, probabilities)
rss = [int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM')][0]
print(json.dumps({{"import_s": t1[0] - t0[0], "import_cpu_s": t1[1] - t0[1],
                  "load_and_first_call_s": t3[0] - t1[0], "load_and_first_call_cpu_s": t3[1] - t1[1],
                  "single_p50_ms": float(np.median(single)) * 1000, "single_cpu_ms": single_cpu * 1000,
                  "test_10k_s": e[0] - s[0], "test_10k_cpu_s": e[1] - s[1], "peak_rss_mib": rss / 1024}}))
"""


def parse_args(argv=None):
    """The command line as an argparse namespace."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras", type=Path, required=True, help="the trained .keras model (the reference)")
    parser.add_argument("--litert", type=Path, help="its .tflite export")
    parser.add_argument("--onnx", type=Path, help="its .onnx export")
    parser.add_argument("--python", action="append", default=[], metavar="RUNTIME=PYTHON",
                        help="run RUNTIME with another interpreter (e.g. keras_jax=/tmp/venv-jax/bin/python)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per runtime (default 3)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here as JSON")
    return parser.parse_args(argv)


def run_child(python, runtime, model, out):
    """The timings a fresh `python` process reports for `runtime` on `model`; writes its test probabilities to out."""
    imports, load = LOADERS[runtime]
    code = CHILD.format(model=str(model), images=str(TEST_IMAGES), out=str(out), imports=imports, load=load)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if done.returncode:
        raise SystemExit(f"error: {runtime}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    pythons = dict(item.split("=", 1) for item in args.python)
    models = {"keras_tf": args.keras, "keras_jax": args.keras, "litert": args.litert, "onnx": args.onnx}
    models = {runtime: path and path.resolve() for runtime, path in models.items()}
    runtimes = [r for r in ("keras_tf", "litert", "onnx") if models[r]] + (["keras_jax"] if "keras_jax" in pythons else [])
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        for runtime in runtimes:
            out = Path(scratch, f"{runtime}.npy")
            runs = [run_child(pythons.get(runtime, sys.executable), runtime, models[runtime], out)
                    for _ in range(args.repeats)]
            figures[runtime] = {key: round(float(np.median([run[key] for run in runs])), 4) for key in runs[0]}
            figures[runtime]["probabilities"] = np.load(out)
    reference = figures["keras_tf"]["probabilities"]
    for runtime, row in figures.items():
        probabilities = row.pop("probabilities")
        row["argmax_disagreements"] = int((probabilities.argmax(1) != reference.argmax(1)).sum())
        row["max_abs_delta_p"] = float(np.abs(probabilities - reference).max())
    print(f"{'runtime':<10} " + " ".join(f"{key:>20}" for key in figures["keras_tf"]))
    for runtime, row in figures.items():
        print(f"{runtime:<10} " + " ".join(f"{value:>20.4g}" for value in row.values()))
    if args.json:
        args.json.write_text(json.dumps({"repeats": args.repeats, "load_average_1min": os.getloadavg()[0],
                                         "runtimes": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Load benchmark of serve.py: start-up time, latency percentiles, requests per second and memory.

Starts `serve.py --model MODEL` as a child process on a free port of 127.0.0.1 and times it from
launch to its first answer. Then, for a small drawing (a real MNIST test digit drawn with a mouse,
as the page sends it: a 128x128 RGBA PNG) and for a 3-megapixel phone-photo-like JPEG of another,
sends --requests requests from each number of concurrent --clients (threads, one connection per
request) and measures each request's latency, and the server's CPU time per request (from
/proc/<pid>/stat: on a machine shared with other work, this is what the requests cost whatever the
wait for a core). Reads the server's resident memory (VmRSS now, VmHWM peak) from
/proc/<pid>/status at the end, and prints one table with the machine (lscpu) and its load
average; --json OUT also writes the figures as JSON.

    python bench/bench_serve.py                                  # models/model.tflite, MNIST from data/raw
    python bench/bench_serve.py --model models/model.keras --mnist ../shared/data/mnist --requests 100
"""
import argparse
import io
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_pipeline.paths import RAW_DIR
from mnist_pipeline.predict import styles
from mnist_pipeline.predict.runtime import EXPORTED_MODEL_FILE
from mnist_pipeline.serve.client import post_images, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
PHOTO_SIZE = (2000, 1500)  # 3 megapixels, 4:3 like a phone camera
DRAWING_SIDE = 128         # the page sends its canvas at this size, as RGBA


def parse_args(argv=None):
    """The command line as an argparse namespace."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / EXPORTED_MODEL_FILE,
                        help="model file: the export stage's LiteRT model (default) or a .keras file")
    parser.add_argument("--mnist", type=Path, default=ROOT / RAW_DIR,
                        help="folder with the MNIST IDX .gz files (default: data/raw, from `dvc repro`)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4],
                        help="numbers of concurrent clients to measure (default: 1 4)")
    parser.add_argument("--requests", type=int, default=200, help="requests per picture (default 200)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here as JSON")
    return parser.parse_args(argv)


def pictures(mnist):
    """{case: (file name, bytes, label)}: a mouse drawing (PNG) and a 3-megapixel phone-photo-like JPEG."""
    images, labels = styles.sample_digits(mnist, 2, seed=5)
    rng = np.random.default_rng(5)
    mouse = styles.render_mouse(images[0], rng)
    canvas = Image.new("L", (max(mouse.size),) * 2, 255)
    canvas.paste(mouse, ((canvas.width - mouse.width) // 2, (canvas.height - mouse.height) // 2))
    drawing = encode(canvas.resize((DRAWING_SIDE, DRAWING_SIDE), Image.Resampling.BILINEAR).convert("RGBA"), "PNG")
    photo = styles.render_paper_photo(images[1], rng).resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
    grain = rng.normal(0, 6, (PHOTO_SIZE[1], PHOTO_SIZE[0], 1))  # sensor noise: a photo's JPEG size
    photo = Image.fromarray(np.clip(np.asarray(photo, dtype=np.float32) + grain, 0, 255).astype(np.uint8))
    return {"drawing": ("drawing.png", drawing, int(labels[0])),
            "photo_3mp": ("photo.jpg", encode(photo, "JPEG", quality=90), int(labels[1]))}


def encode(image, format_, **options):
    """The bytes of a PIL image saved in format_."""
    out = io.BytesIO()
    image.save(out, format_, **options)
    return out.getvalue()


def load(url, name, data, clients, requests):
    """Latencies (s) of `requests` requests of one picture from `clients` threads, wall seconds, answers."""
    def one(_):
        start = time.perf_counter()
        status, body = post_images(url + "api/predict", [(name, data)])
        if status != 200:
            raise SystemExit(f"error: {name}: the server answered {status}: {body}")
        return time.perf_counter() - start, body[0]["digit"]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(requests)))
    return [r[0] for r in results], time.perf_counter() - start, {r[1] for r in results}


def percentile(values, q):
    """The q-th percentile (0-100) of values, interpolated."""
    return float(np.percentile(values, q))


def memory(pid):
    """{VmRSS, VmHWM} of a process in MiB, from /proc/<pid>/status."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: round(int(fields[key].split()[0]) / 1024, 1) for key in ("VmRSS", "VmHWM")}


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine():
    """The CPU model and core count (lscpu) and the 1-minute load average."""
    info = dict(line.split(":", 1) for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout
                .splitlines() if ":" in line)
    return {"cpu": info.get("Model name", "?").strip(), "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def main(argv=None):
    args = parse_args(argv)
    cases = pictures(args.mnist)
    figures = {"date": date.today().isoformat(), "machine": machine(), "requests": args.requests}
    launched = time.perf_counter()
    process, url = start_server(args.model)
    try:
        listening = time.perf_counter() - launched
        name, data, _ = cases["drawing"]
        status, body = post_images(url + "api/predict", [(name, data)])
        if status != 200:
            raise SystemExit(f"error: {name}: the server answered {status}: {body}")
        first_answer = time.perf_counter() - launched
        figures["startup_s"] = {"listening": round(listening, 2), "first_answer": round(first_answer, 2),
                                "server_cpu": round(cpu_seconds(process.pid), 2)}
        for case, (name, data, label) in cases.items():
            for clients in args.clients:
                cpu = cpu_seconds(process.pid)
                latencies, wall, digits = load(url, name, data, clients, args.requests)
                cpu = cpu_seconds(process.pid) - cpu
                figures[f"{case}_{clients}_clients"] = {
                    "picture": case, "clients": clients, "bytes": len(data), "digit": sorted(digits), "label": label,
                    **{f"p{q}_ms": round(percentile(latencies, q) * 1000, 1) for q in (50, 95, 99)},
                    "requests_per_s": round(len(latencies) / wall, 1),
                    "server_cpu_ms_per_request": round(cpu / len(latencies) * 1000, 1)}
        figures["memory_mib"] = memory(process.pid)
    finally:
        stop_server(process)
    figures["machine"]["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    report(figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def report(figures):
    """Prints the figures as a small table."""
    m = figures["machine"]
    print(f"{figures['date']}  {m['cpu']}, {m['cpus']} CPUs, load average {m['load_average_1min']} at the start, "
          f"{m['load_average_1min_end']} at the end")
    startup = figures["startup_s"]
    print(f"start-up: listening after {startup['listening']} s, first answer after {startup['first_answer']} s "
          f"(server CPU time by then: {startup['server_cpu']} s)")
    print(f"{'picture':<10} {'bytes':>9} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} "
          f"{'CPU ms/req':>10}  ({figures['requests']} requests each)")
    for f in (value for value in figures.values() if isinstance(value, dict) and "picture" in value):
        print(f"{f['picture']:<10} {f['bytes']:>9,} {f['clients']:>7} {f['p50_ms']:>8} {f['p95_ms']:>8} "
              f"{f['p99_ms']:>8} {f['requests_per_s']:>7} {f['server_cpu_ms_per_request']:>10}  "
              f"answers {f['digit']} (label {f['label']})")
    print(f"server memory: {figures['memory_mib']['VmRSS']} MiB resident at the end, "
          f"{figures['memory_mib']['VmHWM']} MiB peak")


if __name__ == "__main__":
    main()

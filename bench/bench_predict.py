"""Benchmarks predict.py on pictures of real MNIST digits: accuracy and the share called "not a digit" per
style (with the detector beside the model, if any), throughput, cold start.

Renders --count MNIST test digits (from the IDX files in --mnist, default data/raw) in every style
of mnist_pipeline/predict/styles.py (or only those named by --styles) into a temporary folder (deleted
afterwards), classifies the whole folder with one `predict.py --format csv` run using --model (default
models/model.keras), and times predict.py on a single file. Each style draws from its own random stream
(robustness.suite.stream of --seed and its name), so a style's pictures are the same whichever styles run
with it. A picture predict.py cannot read counts as wrong and is listed. Prints a table; --json OUT also
writes the figures as JSON.

    python bench/bench_predict.py                       # 200 digits x 22 styles = 4400 files
    python bench/bench_predict.py --styles tight_bold,tight_bold_binary --count 500
    python bench/bench_predict.py --model /tmp/small.keras --mnist ../shared/data/mnist --count 50 \
        --json bench/results/predict.json
"""
import argparse
import csv
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_pipeline.paths import MODEL_FILE, RAW_DIR
from mnist_pipeline.predict import styles
from mnist_pipeline.robustness.suite import stream

ROOT = Path(__file__).resolve().parent.parent

COLD_RUNS = 3


def parse_args(argv=None):
    """The command line as an argparse namespace."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / MODEL_FILE, help="Keras model file")
    parser.add_argument("--mnist", type=Path, default=ROOT / RAW_DIR,
                        help="folder with the MNIST IDX .gz files (default: data/raw, from `dvc repro`)")
    parser.add_argument("--count", type=int, default=200, help="digits per style (default 200)")
    parser.add_argument("--seed", type=int, default=11, help="seed choosing and drawing the digits")
    parser.add_argument("--styles", type=style_list, default=styles.STYLES, metavar="NAME,NAME",
                        help="only these styles (comma-separated names; default all)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here as JSON")
    return parser.parse_args(argv)


def style_list(names):
    """The styles.STYLES named in a comma-separated list; argparse's error names an unknown one."""
    known = {style.name: style for style in styles.STYLES}
    unknown = [name for name in names.split(",") if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown style {unknown[0]!r} (expected names from {', '.join(known)})")
    return [known[name] for name in names.split(",")]


def write_pictures(folder, mnist, count, seed, chosen):
    """Renders `count` MNIST test digits of the `mnist` folder in each of the `chosen` styles into
    folder/<style>/<index>_<label>.<ext>; returns {path: label}."""
    images, labels = styles.sample_digits(mnist, count, seed)
    truth = {}
    for style in chosen:
        rng = stream(seed, style.name)
        (folder / style.name).mkdir()
        for index, (image, label) in enumerate(zip(images, labels)):
            path = styles.write_rendering(style, image, rng, folder / style.name / f"{index:04d}_{label}")
            truth[path] = int(label)
    return truth


def run_predict(paths, model):
    """(wall seconds, CompletedProcess) of one predict.py run with CSV output."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "predict.py"), *map(str, paths), "--model", str(model),
                             "--format", "csv"], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):  # 1: some pictures unreadable, each named on stderr
        sys.exit(f"predict.py failed ({result.returncode}):\n{result.stderr}")
    return elapsed, result


def accuracy_per_style(csv_text, truth, chosen):
    """{style: accuracy} plus "all", from predict.py's CSV output and the true labels; a picture predict.py
    could not read (named on its stderr, absent from the CSV) counts as wrong."""
    answers = {Path(row["file"]): int(row["digit"]) for row in csv.DictReader(io.StringIO(csv_text))}
    hits = {}
    for path, label in truth.items():
        hits.setdefault(path.parent.name, []).append(answers.get(path) == label)
    accuracy = {style.name: float(np.mean(hits[style.name])) for style in chosen}
    accuracy["all"] = float(np.mean([hit for h in hits.values() for hit in h]))
    return accuracy


def rejection_per_style(csv_text, chosen):
    """{style: share of its pictures predict.py called not a digit} plus "all"; {} for a model without a
    not-a-digit detector beside it."""
    flags = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        if not row.get("not_a_digit"):
            return {}
        flags.setdefault(Path(row["file"]).parent.name, []).append(row["not_a_digit"] == "true")
    rates = {style.name: float(np.mean(flags[style.name])) for style in chosen}
    rates["all"] = float(np.mean([flag for f in flags.values() for flag in f]))
    return rates


def main(argv=None):
    """Runs the benchmark and prints (and optionally writes) its figures."""
    args = parse_args(argv)
    if not args.model.is_file():
        sys.exit(f"error: {args.model}: model file not found (train one with `dvc repro` or pass --model)")
    if not (args.mnist / "t10k-images-idx3-ubyte.gz").is_file():
        sys.exit(f"error: {args.mnist}: no MNIST test files here (run `dvc repro` or pass --mnist)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        truth = write_pictures(folder, args.mnist, args.count, args.seed, args.styles)
        batch_seconds, result = run_predict([folder], args.model)
        accuracy = accuracy_per_style(result.stdout, truth, args.styles)
        rejected = rejection_per_style(result.stdout, args.styles)
        unreadable = [line.removeprefix("error: ") for line in result.stderr.splitlines() if line.startswith("error: ")]
        single = next(iter(truth))
        cold = statistics.median(run_predict([single], args.model)[0] for _ in range(COLD_RUNS))
    figures = {"model": str(args.model), "digits_per_style": args.count, "accuracy": accuracy, "not_a_digit": rejected,
               "unreadable": unreadable,
               "batch_files": len(truth), "batch_seconds": round(batch_seconds, 2),
               "files_per_second": round(len(truth) / batch_seconds, 1), "cold_start_seconds": round(cold, 2)}
    print(f"{'style':<18}{'accuracy':>9}{'not a digit':>13}")
    for style, value in accuracy.items():
        print(f"{style:<18}{value:>9.1%}{format(rejected[style], '.1%') if rejected else 'unchecked':>13}")
    for line in unreadable:
        print(f"unreadable, counted wrong: {line}")
    print(f"\nthroughput: {len(truth)} files in {batch_seconds:.1f} s = {figures['files_per_second']} files/s "
          "(one predict.py run, start-up included)")
    print(f"cold start: {cold:.2f} s for one file (median of {COLD_RUNS} runs)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

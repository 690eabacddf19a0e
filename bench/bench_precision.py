"""Precision benchmark: what `train.precision: auto` picks on this machine, and what each policy costs.

Trains the default network (params.yaml's `model` and `train`) on the first --images training images
for --epochs epochs in float32 and in mixed_bfloat16, each policy in its own process (the dtype policy
is global), and prints the images per second of the last epoch (the first also builds the graph), with
the choice `auto` makes here. Reads data/prepared (run `dvc repro preprocess` first).

    python bench/bench_precision.py                     # 6,400 images x 2 epochs per policy
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ("float32", "mixed_bfloat16")


def run_policy(policy, images, epochs, data_dir):
    """Trains in this process under `policy`; returns the last epoch's images per second."""
    from mnist_pipeline.data import load_split
    from mnist_pipeline.params import load_params
    from mnist_pipeline.training import train_model

    params = load_params("model", "train", path=ROOT / "params.yaml")
    train = params.train.model_copy(update={"precision": policy, "epochs": epochs,
                                            "warmup_epochs": min(params.train.warmup_epochs, epochs - 1)})
    x_train, y_train = load_split(data_dir, "train")
    x_val, y_val = load_split(data_dir, "val")
    _, history = train_model(params.model, train, 10, (x_train[:images], y_train[:images]),
                             (x_val[:1000], y_val[:1000]), verbose=0)
    return round(images / float(history["seconds"].iloc[-1]), 1)


def machine():
    """The CPU's model name and core count, as /proc/cpuinfo and the OS give them."""
    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")] if Path("/proc/cpuinfo").exists() else []
    return f"{names[0] if names else 'unknown CPU'} ({os.cpu_count()} cores)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6400)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data/prepared")
    parser.add_argument("--run", choices=POLICIES, help=argparse.SUPPRESS)  # internal: one policy here
    args = parser.parse_args()
    if args.run:
        print("RESULT " + json.dumps(run_policy(args.run, args.images, args.epochs, args.data_dir)))
        return
    from mnist_pipeline.precision import resolve_precision

    print(f"{machine()}, {time.strftime('%Y-%m-%d')}: train.precision auto picks {resolve_precision('auto')}")
    for policy in POLICIES:
        cmd = [sys.executable, __file__, "--run", policy, "--images", str(args.images), "--epochs", str(args.epochs),
               "--data-dir", str(args.data_dir)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"error: {policy} failed:\n{out.stderr[-3000:]}")
        result = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])
        print(f"{policy}: {result:,.0f} images/s", flush=True)


if __name__ == "__main__":
    main()

"""Training benchmark: the Keras reference recipe beside the project's recipes, same machine, same data.

Reads the prepared arrays (data/prepared by default; run `dvc repro preprocess` first), params.yaml
and the presets in presets/. Each recipe trains in its own process (so peak memory is its own);
test accuracy of the network in training is checked after every epoch, outside the timed training.
A project recipe's final test accuracy is measured as the evaluate stage measures it (its ensemble,
with test-time shifts). Prints one table and writes it as JSON (bench/results/training.json by default).

    python bench/bench_training.py                      # reference, default, fast (minutes)
    python bench/bench_training.py --recipes reference default fast ensemble   # plus the ensemble (about an hour)
    python bench/bench_training.py --recipes default --seeds 1 2 3
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
# "reference" is built in this script, "default" is params.yaml, the others are the presets in presets/.
RECIPES = ("reference", "default", *sorted(path.stem for path in (ROOT / "presets").glob("*.yaml")))
DEFAULT_RECIPES = ("reference", "default", "fast")
THRESHOLDS = (0.99, 0.995)


def recipe_params(recipe, seed, epochs=None):
    """(model, train, evaluate) params of a project recipe: params.yaml, with a preset from presets/ merged on top,
    then `seed` and (when given) `epochs`, the warm-up shortened to fit."""
    from mnist_pipeline.params import load_params, merge_preset

    params = load_params("model", "train", "evaluate", path=ROOT / "params.yaml")
    if recipe != "default":
        params = merge_preset(params, ROOT / "presets" / f"{recipe}.yaml")
    epochs = epochs or params.train.epochs
    train = params.train.model_copy(update={"seed": seed, "epochs": epochs,
                                            "warmup_epochs": min(params.train.warmup_epochs, epochs - 1)})
    return params.model, train, params.evaluate


def reference_model():
    """The Keras "simple MNIST convnet" example, as published."""
    from mnist_pipeline.tf_runtime import keras
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def test_accuracy_log(x_test, y_test):
    """A callback that times training epochs and measures test accuracy after each, untimed."""
    from mnist_pipeline.tf_runtime import keras

    class TestAccuracyLog(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.accuracy, self.elapsed = [], [], 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.elapsed += time.perf_counter() - self.start
            predictions = self.model.predict(x_test, batch_size=1000, verbose=0).argmax(axis=1)
            self.seconds.append(self.elapsed)
            self.accuracy.append(float((predictions == y_test).mean()))

    return TestAccuracyLog()


def run_recipe(recipe, seed, data_dir, epochs):
    """Trains one recipe in this process; returns its figures."""
    import numpy as np
    from mnist_pipeline.data import load_split

    (x_train, y_train), (x_val, y_val) = load_split(data_dir, "train"), load_split(data_dir, "val")
    x_test, y_test = load_split(data_dir, "test")
    log = test_accuracy_log(x_test, y_test)
    if recipe == "reference":
        from mnist_pipeline.tf_runtime import keras
        keras.utils.set_random_seed(seed)
        x_all, y_all = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
        model = reference_model()
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        epochs = epochs or 15
        model.fit(x_all, y_all, batch_size=128, epochs=epochs, validation_split=0.1, callbacks=[log], verbose=2)
        networks, shift_px = 1, 0
        images = epochs * int(len(x_all) * 0.9)
        accuracy = log.accuracy[-1]
    else:
        from mnist_pipeline.ensemble import member_train_images, train_ensemble
        from mnist_pipeline.model import predict_probabilities
        model_params, train, evaluate = recipe_params(recipe, seed, epochs)
        model, _ = train_ensemble(model_params, train, 10, (x_train, y_train), (x_val, y_val),
                                  callbacks=[log], verbose=2)
        epochs, networks = train.epochs, train.ensemble
        images = epochs * sum(member_train_images(len(x_train), len(x_val), i, train.ensemble_split)
                              for i in range(networks))
        shift_px = evaluate.test_time_shift_px
        probabilities = predict_probabilities(model, x_test, evaluate.batch_size, shift_px)
        accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    seconds = log.seconds[-1]
    first = {t: next((s for s, a in zip(log.seconds, log.accuracy) if a >= t), None) for t in THRESHOLDS}
    return {"recipe": recipe, "seed": seed, "epochs": epochs, "networks": networks, "test_time_shift_px": shift_px,
            "test_accuracy": accuracy, "training_seconds": round(seconds, 1),
            "train_images_per_second": round(images / seconds, 1),
            **{f"seconds_to_{t:.1%}": None if s is None else round(s, 1) for t, s in first.items()},
            "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "test_accuracy_per_epoch": [round(a, 4) for a in log.accuracy]}  # of each network in turn


def ratios(rows):
    """Adds each figure's ratio to the reference recipe's (same seed where there is one)."""
    reference = next((r for r in rows if r["recipe"] == "reference"), None)
    if reference is None:
        return rows
    for row in rows:
        row["vs_reference"] = {key: round(row[key] / reference[key], 3)
                               for key in ("test_accuracy", "training_seconds", "train_images_per_second",
                                           "seconds_to_99.0%", "peak_memory_mib")
                               if row[key] is not None and reference[key]}
    return rows


def table(rows):
    """The benchmark table as aligned text."""
    header = ["recipe", "seed", "epochs", "networks", "test acc", "train s", "img/s", "s to 99.0%", "s to 99.5%",
              "peak MiB", "acc / ref", "time / ref"]
    lines = [header]
    for r in rows:
        ratio = r.get("vs_reference", {})
        lines.append([r["recipe"], r["seed"], r["epochs"], r["networks"], f"{r['test_accuracy']:.2%}",
                      r["training_seconds"], r["train_images_per_second"], r["seconds_to_99.0%"] or "-",
                      r["seconds_to_99.5%"] or "-", r["peak_memory_mib"],
                      ratio.get("test_accuracy", "-"), ratio.get("training_seconds", "-")])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(v).rjust(w) for v, w in zip(line, widths)) for line in lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(DEFAULT_RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data/prepared")
    parser.add_argument("--epochs", type=int, help="override every recipe's epochs (quick checks)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/training.json")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: train one recipe in this process
    args = parser.parse_args()
    if args.run:
        print("RESULT " + json.dumps(run_recipe(args.run, args.seeds[0], args.data_dir, args.epochs)))
        return
    rows = []
    for seed in args.seeds:
        for recipe in args.recipes:
            cmd = [sys.executable, __file__, "--run", recipe, "--seeds", str(seed), "--data-dir", str(args.data_dir)]
            cmd += ["--epochs", str(args.epochs)] if args.epochs else []
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"error: recipe {recipe} (seed {seed}) failed:\n{out.stderr[-3000:]}")
            rows.append(json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:]))
            print(f"{recipe} seed {seed}: {rows[-1]['test_accuracy']:.2%} in {rows[-1]['training_seconds']} s",
                  flush=True)
    rows = ratios(rows)
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": machine(), "results": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")


def machine():
    """A short description of where the benchmark ran."""
    import os
    import platform
    return {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


if __name__ == "__main__":
    main()

"""Stage 3, train: fits the CNN on the training split, validating on the validation split.

Reads data/prepared/{x,y}_{train,val}.npy and params `dataset.class_names`, `model` and `train`.
Writes models/model.keras, plots/history.csv (per epoch: loss, accuracy, val_loss, val_accuracy,
learning rate, seconds), metrics/train.json (epochs, best validation accuracy, parameter count:
the same on every rerun) and metrics/train_speed.json (training seconds, images per second, peak
memory: these vary from run to run).
"""
import math
import resource
import sys
import time

import pandas as pd

from mnist_pipeline.data import load_split
from mnist_pipeline.files import atomic_path, write_json, write_text
from mnist_pipeline.params import ParamsError, load_params
from mnist_pipeline.paths import HISTORY_PLOT, MODEL_FILE, PREPARED_DIR, TRAIN_METRICS, TRAIN_SPEED
from mnist_pipeline.stage import run_stage


def check_batch_size(batch_size, n_train):
    if batch_size > n_train:
        raise ParamsError(f"params.yaml: train.batch_size = {batch_size} is invalid; expected at most the "
                          f"{n_train} training images")


def main():
    params = load_params("dataset.class_names", "model", "train")
    train = params["train"]
    x_train, y_train = load_split(PREPARED_DIR, "train")
    x_val, y_val = load_split(PREPARED_DIR, "val")
    check_batch_size(train["batch_size"], len(x_train))

    import keras  # imported after the checks: TensorFlow takes seconds to load
    from mnist_pipeline import training
    from mnist_pipeline.model import build_model

    training.configure(train["seed"], train["precision"])
    steps_per_epoch = math.ceil(len(x_train) / train["batch_size"])
    model = build_model(params["model"], len(params["dataset.class_names"]))
    model.compile(optimizer=training.make_optimizer(train, steps_per_epoch),
                  loss=training.SmoothedSparseCrossentropy(train["label_smoothing"]),
                  metrics=["accuracy"])
    model.summary()

    data = training.training_dataset(x_train, y_train, train["batch_size"], train["augment"], train["seed"])
    start = time.perf_counter()
    history = model.fit(data, epochs=train["epochs"], steps_per_epoch=steps_per_epoch,
                        validation_data=(x_val, y_val), validation_batch_size=1000, shuffle=False,
                        callbacks=[training.EpochLog()], verbose=2 if not sys.stdout.isatty() else 1)
    seconds = time.perf_counter() - start

    log = pd.DataFrame(history.history)
    log.insert(0, "epoch", range(1, len(log) + 1))
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"]
    best = log["val_accuracy"].idxmax()
    with atomic_path(MODEL_FILE) as tmp:
        model.save(tmp)
    write_text(HISTORY_PLOT, log[columns].to_csv(index=False, float_format="%.6g"))
    write_json(TRAIN_METRICS, {
        "epochs": int(train["epochs"]),
        "best_val_accuracy": round(float(log["val_accuracy"][best]), 6),
        "best_epoch": int(log["epoch"][best]),
        "final_val_accuracy": round(float(log["val_accuracy"].iloc[-1]), 6),
        "final_val_loss": round(float(log["val_loss"].iloc[-1]), 6),
        "parameters": int(model.count_params()),
    })
    write_json(TRAIN_SPEED, {
        "training_seconds": round(seconds, 1),
        "train_images_per_second": round(train["epochs"] * len(x_train) / float(log["seconds"].sum()), 1),
        "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })


if __name__ == "__main__":
    sys.exit(run_stage(main))

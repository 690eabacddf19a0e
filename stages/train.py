"""Stage 3, train: fits the CNN on the training split, validating on the validation split.

Reads data/prepared/{x,y}_{train,val}.npy and params `dataset.class_names`, `model` and `train`.
Writes models/model.keras, plots/history.csv (per epoch: loss, accuracy, val_loss, val_accuracy,
learning rate, seconds), metrics/train.json (epochs, best validation accuracy, parameter count:
the same on every rerun) and metrics/train_speed.json (training seconds, images per second, peak
memory: these vary from run to run). With `train.ensemble` > 1 it trains that many networks with
consecutive seeds (each on its own cross-validation fold of train + val with `train.ensemble_split:
folds`; all but the first on train + val with `all`) and saves the model that averages them;
history.csv and the validation figures of train.json are then the first member's (trained on the
train split), and train.json gives each member's final validation accuracy (on its own fold; null
for a member trained on the validation images too). While it runs, data/checkpoints/train/
holds the last finished epoch (of each member), so a killed run resumes there; it is removed once
the outputs are written. In a multi-worker run (TF_CONFIG) only the chief writes: the other workers
write into a temporary directory, then delete it.
"""
import os
import resource
import sys
import tempfile
import time

from mnist_pipeline.data import load_split
from mnist_pipeline.files import atomic_path, write_json, write_text
from mnist_pipeline.params import ParamsError, load_params
from mnist_pipeline.paths import (HISTORY_PLOT, MODEL_FILE, PREPARED_DIR, TRAIN_CHECKPOINT_DIR, TRAIN_METRICS,
                                  TRAIN_SPEED)
from mnist_pipeline.stage import run_stage


def check_batch_size(batch_size, n_train):
    if batch_size > n_train:
        raise ParamsError(f"params.yaml: train.batch_size = {batch_size} is invalid; expected at most the "
                          f"{n_train} training images")


def main():
    params = load_params("dataset.class_names", "model", "train")
    train = params.train.model_dump()
    x_train, y_train = load_split(PREPARED_DIR, "train")
    x_val, y_val = load_split(PREPARED_DIR, "val")
    check_batch_size(train["batch_size"], len(x_train))

    from mnist_pipeline import resume  # imported after the checks: TensorFlow loads slowly
    from mnist_pipeline.distribute import is_chief
    from mnist_pipeline.training import member_train_images, train_ensemble, validation_held_out

    if not is_chief():  # another worker: trains in step with the chief, its outputs are thrown away
        scratch = tempfile.TemporaryDirectory(prefix="train-worker-")  # deleted when main() returns
        os.chdir(scratch.name)

    start = time.perf_counter()
    model, logs = train_ensemble(params.model.model_dump(), train, len(params.dataset.class_names),
                                 (x_train, y_train), (x_val, y_val), verbose=1 if sys.stdout.isatty() else 2,
                                 checkpoint_dir=TRAIN_CHECKPOINT_DIR)
    seconds = time.perf_counter() - start
    model.summary()
    log = logs[0]
    best = log["val_accuracy"].idxmax()
    # Saved for inference with a standard loss, so plain keras.models.load_model reads it; the
    # label-smoothing training loss and the optimizer state live only in the resume checkpoints.
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with atomic_path(MODEL_FILE) as tmp:
        model.save(tmp)
    write_text(HISTORY_PLOT, log.to_csv(index=False, float_format="%.6g"))
    write_json(TRAIN_METRICS, {
        "epochs": int(train["epochs"]),
        "best_val_accuracy": round(float(log["val_accuracy"][best]), 6),
        "best_epoch": int(log["epoch"][best]),
        "final_val_accuracy": round(float(log["val_accuracy"].iloc[-1]), 6),
        "final_val_loss": round(float(log["val_loss"].iloc[-1]), 6),
        "parameters": int(model.count_params()),
        "member_final_val_accuracy": {
            f"member{i + 1}": round(float(member["val_accuracy"].iloc[-1]), 6)
            if validation_held_out(i, train["ensemble_split"]) else None for i, member in enumerate(logs)},
    })
    images = train["epochs"] * sum(member_train_images(len(x_train), len(x_val), i, train["ensemble_split"])
                                   for i in range(len(logs)))
    write_json(TRAIN_SPEED, {
        "training_seconds": round(seconds, 1),
        "train_images_per_second": round(images / sum(float(member["seconds"].sum()) for member in logs), 1),
        "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })
    resume.clear(TRAIN_CHECKPOINT_DIR)


if __name__ == "__main__":
    sys.exit(run_stage(main))

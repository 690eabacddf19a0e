"""Stage 3, train: fits the CNN on the training split, validating on the validation split.

Reads data/prepared/{x,y}_{train,val}.npy and params `dataset.class_names`, `model` and `train`. Writes
models/model.keras (computing in float32, whatever precision trained it) and two DVCLive logs
(mnist_pipeline.tracking), after every epoch: metrics/train/ (per epoch: loss, accuracy, val_loss, val_accuracy,
learning_rate; at the end best validation accuracy and epoch, parameter count: the same on every rerun) and
metrics/train_speed/ (per epoch: seconds; at the end training seconds, images per second, peak memory and the
precision `train.precision` chose: these vary from run to run and machine to machine). With `train.ensemble` > 1
it trains that many networks with consecutive seeds (each on its own cross-validation fold of train + val with
`train.ensemble_split: folds`; all but the first on train + val with `all`) and saves the model that averages
them; member i > 1 logs as `member<i>/<name>` (no validation figures for a member trained on the validation images
too), and the best-epoch figures are the first member's (trained on the train split). While it runs,
data/checkpoints/train/ holds the last finished epoch (of each member), so a killed run resumes there, logging the
restored epochs again; it is removed once the outputs are written. In a multi-worker run (TF_CONFIG) only the
chief writes: the other workers write into a temporary directory, then delete it.
"""
import os
import resource
import sys
import tempfile
import time

from mnist_pipeline.cluster import wait_for_peers
from mnist_pipeline.data import load_split
from mnist_pipeline.files import atomic_path
from mnist_pipeline.params import ParamsError, load_params
from mnist_pipeline.paths import MODEL_FILE, PREPARED_DIR, TRAIN_CHECKPOINT_DIR
from mnist_pipeline.stage import run_stage


def check_batch_size(batch_size, n_train):
    if batch_size > n_train:
        raise ParamsError(f"params.yaml: train.batch_size = {batch_size} is invalid; expected at most the "
                          f"{n_train} training images")


def main():
    params = load_params("dataset.class_names", "model", "train")
    train, num_classes = params.train, len(params.dataset.class_names)
    x_train, y_train = load_split(PREPARED_DIR, "train", num_classes=num_classes)
    x_val, y_val = load_split(PREPARED_DIR, "val", num_classes=num_classes)
    check_batch_size(train.batch_size, len(x_train))
    wait_for_peers(train.worker_timeout_s)  # multi-worker: TF_CONFIG checked, the other workers up; else nothing

    from mnist_pipeline import resume  # imported after the checks: TensorFlow loads slowly
    from mnist_pipeline.cluster import is_chief
    from mnist_pipeline.distribute import bound_cluster_waits, peer_failures
    from mnist_pipeline.tracking import TrainingLog
    from mnist_pipeline.ensemble import member_train_images, train_ensemble
    from mnist_pipeline.precision import float32_model, resolve_precision

    precision = resolve_precision(train.precision)
    print(f"train.precision {train.precision}: training in {precision}", flush=True)

    if not is_chief():  # another worker: trains in step with the chief, its outputs are thrown away
        scratch = tempfile.TemporaryDirectory(prefix="train-worker-")  # deleted when main() returns
        os.chdir(scratch.name)

    training_log = TrainingLog()
    start = time.perf_counter()
    with peer_failures(train.worker_timeout_s):
        bound_cluster_waits(train.worker_timeout_s)
        model, logs = train_ensemble(params.model, train, num_classes, (x_train, y_train), (x_val, y_val),
                                     verbose=1 if sys.stdout.isatty() else 2, checkpoint_dir=TRAIN_CHECKPOINT_DIR,
                                     training_log=training_log)
    seconds = time.perf_counter() - start
    model.summary()
    log = logs[0]
    best = log["val_accuracy"].idxmax()
    # Saved in float32 for inference with a standard loss, so plain keras.models.load_model reads it; the
    # label-smoothing training loss and the optimizer state live only in the resume checkpoints.
    model = float32_model(model)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with atomic_path(MODEL_FILE) as tmp:
        model.save(tmp)
    images = train.epochs * sum(member_train_images(len(x_train), len(x_val), i, train.ensemble_split)
                                for i in range(len(logs)))
    training_log.end({  # the last epoch's values of each member are the summary's already
        "best_val_accuracy": round(float(log["val_accuracy"][best]), 6),
        "best_epoch": int(log["epoch"][best]),
        "parameters": int(model.count_params()),
    }, {
        "training_seconds": round(seconds, 1),
        "train_images_per_second": round(images / sum(float(member["seconds"].sum()) for member in logs), 1),
        "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "precision": precision,  # what train.precision (auto) chose on this machine
    })
    resume.clear(TRAIN_CHECKPOINT_DIR)


if __name__ == "__main__":
    sys.exit(run_stage(main))

"""tf.distribute: the strategy choice, the chief, mixed precision, and real two-replica and two-worker runs.

The distributed runs need a fresh TensorFlow (logical devices and the multi-worker cluster are set
up before any op), so each runs in its own process: this file's `*_main` functions are its entry points.
"""
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, TINY_PARAMS, update_params
from mnist_pipeline import cluster, distribute, ensemble, inputs, training
from mnist_pipeline.data import save_split
from mnist_pipeline.params import load_params
from mnist_pipeline.schema import Model, Train
from mnist_pipeline.paths import MODEL_FILE, TRAIN_LOG, TRAIN_METRICS, TRAIN_SPEED_LOG
from ports import free_ports
from synthetic import make_images

TESTS = ROOT / "tests"
MODEL = Model.model_validate({"conv_blocks": [{"filters": 8, "convs": 1}, {"filters": 16, "convs": 1}],
                              "batchnorm": True, "activation": "relu", "dense_units": 32, "dropout": 0.2})
TRAIN = Train.model_validate({"seed": 3, "epochs": 3, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.003,
                              "warmup_epochs": 0, "schedule": "cosine", "label_smoothing": 0.1, "precision": "float32",
                              "strategy": "auto", "augment": {"rotation_deg": 5, "zoom": 0.05, "shift_px": 1},
                              "ensemble": 1, "ensemble_split": "same"})
OUTPUTS = [MODEL_FILE, TRAIN_LOG / "metrics.json", TRAIN_SPEED_LOG / "metrics.json", TRAIN_LOG / "plots"]


def tiny_data(n=600):
    """((x_train, y_train), (x_val, y_val)): generated bars, 80 % for training."""
    labels = np.random.default_rng(0).integers(0, 10, n).astype(np.uint8)
    x = make_images(labels, seed=1)[..., None].astype(np.float32) / 255
    cut = n * 4 // 5
    return (x[:cut], labels[:cut]), (x[cut:], labels[cut:])


def tf_config(ports, index):
    """TF_CONFIG of worker `index` in a cluster of workers on this machine."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


# --- the strategy choice and the chief --------------------------------------------------------------

@pytest.mark.parametrize("config, chief, workers", [
    (None, True, 1),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True, 2),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False, 2),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, True, 2),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, False, 2),
    ({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, True, 1),
])
def test_chief_and_worker_count_follow_tf_config(monkeypatch, config, chief, workers):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert cluster.is_chief() is chief
    assert distribute.worker_count() == workers


@pytest.mark.parametrize("name, gpus, config, expected", [
    ("auto", 0, None, "one_device"),
    ("auto", 1, None, "one_device"),
    ("auto", 2, None, "mirrored"),
    ("auto", 2, {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, "multi_worker"),
    ("auto", 0, {"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, "one_device"),
    ("mirrored", 0, None, "mirrored"),
    ("multi_worker", 0, None, "multi_worker"),
    ("one_device", 2, None, "one_device"),
])
def test_make_strategy_picks_by_name_gpus_and_cluster(monkeypatch, name, gpus, config, expected):
    # Stand-ins for the strategies, so the choice is checked without GPUs or a cluster.
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda: "mirrored")
    monkeypatch.setattr(distribute, "KerasMultiWorkerMirroredStrategy", lambda: "multi_worker")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [f"/GPU:{i}" for i in range(gpus)])
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    strategy = distribute.make_strategy(name)
    assert (strategy if isinstance(strategy, str) else "one_device") == expected
    if expected == "one_device":
        assert strategy is tf.distribute.get_strategy()  # the default strategy: no change from plain Keras


def test_unknown_strategy_is_named():
    with pytest.raises(ValueError, match=r"^train.strategy = 'tpu' is invalid; expected one of auto, "):
        distribute.make_strategy("tpu")


# --- mixed precision ------------------------------------------------------------------------------

def test_mixed_float16_scales_the_loss_and_keeps_a_float32_softmax():
    train, val = tiny_data(100)
    try:
        model, log = training.train_model(MODEL, TRAIN.model_copy(update={"epochs": 1, "precision": "mixed_float16"}),
                                          10, train, val, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")  # the policy is global: later tests expect float32
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # Keras wraps it at compile
    assert model.get_layer("block1_conv1").compute_dtype == "float16"
    assert model.get_layer("class_probabilities").compute_dtype == "float32"
    assert model(val[0][:2]).dtype == "float32"
    assert np.isfinite(log["loss"]).all()


# --- real distributed runs, each in fresh processes -------------------------------------------------

def run_python(code, cwd, env=None, timeout=120):
    """Runs `code` in a fresh Python that imports this file's helpers; returns its stdout."""
    env = {**(env or os.environ), "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def mirrored_main():
    """Splits the CPU into two logical devices, then trains once on one device and once mirrored on both."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    # MirroredStrategy() alone uses the GPUs, or only the first CPU: give it the two logical CPUs.
    mirrored = tf.distribute.MirroredStrategy
    tf.distribute.MirroredStrategy = lambda: mirrored(["/cpu:0", "/cpu:1"])
    train, val = tiny_data()
    results = {}
    for name in ("one_device", "mirrored"):
        params = TRAIN.model_copy(update={"epochs": 4, "learning_rate": 0.01, "strategy": name})
        model, log = training.train_model(MODEL, params, 10, train, val, verbose=0)
        results[name] = {"replicas": model.distribute_strategy.num_replicas_in_sync,
                         "val_accuracy": float(log["val_accuracy"].iloc[-1])}
    print(json.dumps(results))


@pytest.mark.slow
def test_mirrored_over_two_cpus_matches_one_device(tmp_path):
    results = json.loads(run_python("import test_distribute; test_distribute.mirrored_main()", tmp_path))
    assert results["one_device"]["replicas"] == 1 and results["mirrored"]["replicas"] == 2
    assert results["one_device"]["val_accuracy"] > 0.9  # close to converged, so the comparison is stable
    # Not bit-identical: each replica normalises its half-batch with its own BatchNorm statistics, and
    # the dropout masks differ from one device's. Within 0.05 (6 of 120 validation images) is the same model.
    assert results["mirrored"]["val_accuracy"] == pytest.approx(results["one_device"]["val_accuracy"], abs=0.05)


def worker_main(weights_file):
    """Runs the train stage here (cwd: this worker's copy of the pipeline) and saves, outside it, the final
    trainable weights and this worker's part of the first global batch."""
    import runpy

    fit = ensemble.train_model  # the fit of each member, as the train stage calls it

    def fit_and_keep(model_params, train, num_classes, train_data, *args, **kwargs):
        model, log = fit(model_params, train, num_classes, train_data, *args, **kwargs)
        strategy = model.distribute_strategy
        data = inputs.training_dataset(*train_data, train.batch_size, train.augment, train.seed, train.epochs)
        images = next(iter(strategy.experimental_distribute_dataset(data)))[0]
        first, = strategy.experimental_local_results(images)  # one replica per worker
        trained = {f"w{i}": keras.ops.convert_to_numpy(w) for i, w in enumerate(model.trainable_weights)}
        np.savez(weights_file, first_batch=first, **trained)
        return model, log

    ensemble.train_model = fit_and_keep
    sys.argv = ["stages/train.py"]
    runpy.run_path(str(ROOT / "stages" / "train.py"), run_name="__main__")


def worker_copy(directory, train, val):
    """A directory like a checkout on one machine: params.yaml (tiny) and data/prepared."""
    directory.mkdir()
    shutil.copy(ROOT / "params.yaml", directory / "params.yaml")
    update_params(directory / "params.yaml", TINY_PARAMS)
    save_split(directory / "data/prepared", "train", *train)
    save_split(directory / "data/prepared", "val", *val)
    (directory / "tmp").mkdir()
    return directory


@pytest.mark.slow
def test_two_workers_train_in_step_and_only_the_chief_writes(tmp_path):
    train, val = tiny_data(400)
    ports = free_ports(2)
    workers = []
    for index in range(2):
        directory = worker_copy(tmp_path / f"worker{index}", train, val)
        env = {**os.environ, "TF_CONFIG": tf_config(ports, index), "TMPDIR": str(directory / "tmp"),
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]), "TF_CPP_MIN_LOG_LEVEL": "2"}
        code = f"import test_distribute; test_distribute.worker_main({str(tmp_path / f'w{index}.npz')!r})"
        workers.append(subprocess.Popen([sys.executable, "-c", code], cwd=directory, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL))
    try:
        outputs = [worker.communicate(timeout=150)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()  # a worker left alone would wait for its peer forever
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output

    # Gradients are summed across the workers, so the trained weights are identical. (BatchNorm's moving
    # statistics are not compared: Keras 3 updates them from each worker's own half-batch.)
    chief, other = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    weights = sorted(name for name in chief.files if name != "first_batch")
    assert weights
    for name in weights:
        np.testing.assert_array_equal(chief[name], other[name], err_msg=name)
    # Each worker gets its own half of every global batch (DATA sharding), in the order one device sees.
    params = load_params("train", path=tmp_path / "worker0/params.yaml").train
    half = params.batch_size // 2
    first_epoch = inputs.training_dataset(*train, params.batch_size, params.augment, params.seed, epochs=1)
    one_device = next(iter(first_epoch))[0].numpy()
    np.testing.assert_array_equal(chief["first_batch"], one_device[:half])
    np.testing.assert_array_equal(other["first_batch"], one_device[half:])

    for name in OUTPUTS:
        assert (tmp_path / "worker0" / name).exists(), name
        assert not (tmp_path / "worker1" / name).exists(), name
    assert json.loads((tmp_path / "worker0" / TRAIN_METRICS).read_text())["step"] == 2  # the last epoch
    for index in range(2):
        assert not (tmp_path / f"worker{index}/data/checkpoints").exists()
        assert list((tmp_path / f"worker{index}/tmp").iterdir()) == []  # the scratch directory is gone

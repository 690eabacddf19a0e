"""Shared fixtures: the repository root, a generated IDX dataset, a temporary copy of the pipeline, one tiny
pipeline run shared by the tests that need its outputs, and real MNIST digits with the two models the suite
trains on them (a small CNN for the predict tests, and a whole pipeline run on the real files)."""
import io
import os
import struct
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

# One OpenBLAS thread for numpy/scipy, here and in every stage and dvc process the tests start (they inherit it;
# set before numpy loads). Their matrices are small: on 2 busy cores OpenBLAS's threads cost far more than they
# save (the tiny pipeline's not_a_digit stage, ten small L-BFGS head fits: 114 s CPU with them, 15 s with one).
# An OPENBLAS_NUM_THREADS set outside is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # the tests' own helper modules (synthetic, ...)

from mnist_pipeline.params import deep_merge, load_params  # noqa: E402
from synthetic import write_dataset, write_not_digits  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REAL_MNIST = ROOT.parent / "shared" / "data" / "mnist"
PIPELINE_FILES = ["dvc.yaml", "params.yaml", "stages", "mnist_pipeline"]

# Small settings that keep a whole tiny pipeline run to seconds.
TINY_PARAMS = {
    "model": {"conv_blocks": [{"filters": 8, "convs": 1}, {"filters": 16, "convs": 1}], "dense_units": 32},
    "train": {"epochs": 2, "batch_size": 32, "warmup_epochs": 0},
    "visualize": {"sample_count": 9, "mistake_count": 9, "dpi": 50},
    "robustness": {"images": 10},  # also the not_a_digit stage's pictures per kind of negative
}


def pytest_addoption(parser, pluginmanager):
    """Where pytest-xdist is not installed or is turned off (`-p no:xdist`), pyproject.toml's
    `--numprocesses=2 --dist=loadgroup` are accepted and do nothing: the suite runs in one process, as with `-n 0`."""
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist", "without pytest-xdist")
        for name, default in (("--numprocesses", None), ("--dist", "no")):
            group.addoption(name, default=default, help="ignored: pytest-xdist is not installed or is turned off")


# --- pytest-xdist (pyproject.toml: --numprocesses=2 --dist=loadgroup) --------------------------------------------
# Session fixtures are made once per worker process. The tests that read one of the two expensive chains below carry
# an xdist_group mark naming it, and loadgroup runs the tests of a group on one worker, so each chain is built once
# in the whole run. It hands out the groups with the most tests first: the two chains start at once, one on each
# worker, and the other groups and the ungrouped tests go, a few at a time, to whichever worker is nearly done.
#   "real_mnist": real_mnist_run -> real_mnist_model_file -> real_mnist_export, and model_file -> model
#                 (test_real_mnist, test_serve, test_demo_browser, test_not_a_digit_predict and the model's tests in
#                 test_predict, test_predict_cli and test_corruptions);
#   "tiny_run":   tiny_run -> ensemble_interrupted -> ensemble_run, and reproduced_copy (test_pipeline, test_report,
#                 test_interrupted_repro, test_reliability, test_remote, test_notebook, test_not_a_digit_*
#                 and the whole-run tests of test_calibrate_stage, test_export and test_robustness_stage).
# No test reads both chains. A new test that reads one of them needs its group's mark; one that read both would go
# in one group and build the other chain there too. Modules whose tests share an expensive module-scoped fixture
# have a group of their own (test_experiments: its queued sweep). Tests that open ports take them from ports.py.
REAL_MNIST_GROUP = pytest.mark.xdist_group("real_mnist")
TINY_RUN_GROUP = pytest.mark.xdist_group("tiny_run")
CHAIN_GROUPS = {
    "real_mnist": {"real_mnist_run", "real_mnist_model_file", "real_mnist_export", "model_file", "model"},
    "tiny_run": {"tiny_run", "ensemble_interrupted", "ensemble_run", "reproduced_copy"},
}
GROUP_PROBLEM = pytest.StashKey[str]()


def pytest_collection_modifyitems(config, items):
    """Marks the tests that read a fixture chain of CHAIN_GROUPS without being in exactly one xdist_group, that of
    the chain (under xdist such a test could build its chain a second time, on the other worker): they fail at
    setup, before any fixture is made, naming the mark they need."""
    for item in items:
        groups = {str(m.args[0] if m.args else m.kwargs.get("name")) for m in item.iter_markers("xdist_group")}
        chains = {group for group, fixtures in CHAIN_GROUPS.items() if fixtures & set(item.fixturenames)}
        if chains and not (len(groups) == 1 and groups <= chains):
            item.stash[GROUP_PROBLEM] = (f"reads the {' and '.join(sorted(chains))} fixture chain but its xdist_group "
                                         f"marks are {sorted(groups)}: mark it with one of "
                                         f"{', '.join(f'xdist_group({g!r})' for g in sorted(chains))} (conftest.py)")


def pytest_runtest_setup(item):
    if GROUP_PROBLEM in item.stash:
        pytest.fail(item.stash[GROUP_PROBLEM], pytrace=False)


def update_params(path, changes):
    """Merges nested `changes` into the YAML params file at `path`."""
    params = yaml.safe_load(Path(path).read_text())
    deep_merge(params, changes)
    Path(path).write_text(yaml.safe_dump(params, sort_keys=False))


def run(cmd, cwd, env=None, check=True):
    """Runs a command, returning the CompletedProcess; fails the test with its output if it fails."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(*args, cwd, env=None, check=True):
    return run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, check=check)


def make_pipeline_copy(base):
    """Makes a git + DVC repository under `base` holding a copy of the pipeline, set up for a tiny
    generated dataset. Returns (repo path, environment for its commands: MNIST_MIRROR points at the data).
    """
    repo = base / "repo"
    repo.mkdir()
    for name in PIPELINE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, repo / name)
    mirror = base / "mirror"
    files = write_dataset(mirror)
    not_digits = write_not_digits(base / "not_digits")  # FASHION_MNIST_MIRROR: a stand-in for Fashion-MNIST
    update_params(repo / "params.yaml", {**TINY_PARAMS, "dataset": {
        "mirrors": ["http://127.0.0.1:9/unreachable/"], "files": files}, "not_digits": {
        "mirrors": ["http://127.0.0.1:9/unreachable/"], "test_images": not_digits}})
    env = {**os.environ, "MNIST_MIRROR": str(mirror), "FASHION_MNIST_MIRROR": str(base / "not_digits"),
           "PYTHONPATH": str(repo), "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run(["git", "init", "-q"], cwd=repo)
    dvc("init", "-q", cwd=repo)
    return repo, env


@pytest.fixture
def pipeline_copy(tmp_path):
    """A fresh copy of the pipeline on tiny data, for one test."""
    return make_pipeline_copy(tmp_path)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(repo, env, result of `dvc repro`): one whole run of a tiny pipeline copy, made once per session.
    Never change it: tests that rerun stages or change files work in a copy (`copy_run`)."""
    repo, env = make_pipeline_copy(tmp_path_factory.mktemp("tiny_run"))
    return repo, env, dvc("repro", cwd=repo, env=env)


def copy_run(run_, destination):
    """Copies the repository of a pipeline run (`tiny_run`) with its outputs, git history and DVC cache to
    `destination` (left out: DVC's state and locks in .dvc/tmp). Returns (repo, environment for its commands)."""
    repo, env, _ = run_
    shutil.copytree(repo, destination, symlinks=True,
                    ignore=lambda folder, names: ["tmp"] if Path(folder) == repo / ".dvc" else [])
    return destination, {**env, "PYTHONPATH": str(destination)}


@pytest.fixture(scope="session")
def ensemble_interrupted(tiny_run, tmp_path_factory):
    """(repo, env, what test_interrupted_repro.interrupt_twice found): a copy of `tiny_run` whose train params then
    changed to an ensemble of 2 networks (train.ensemble_split "all"), its `dvc repro` interrupted twice (SIGINT,
    then SIGKILL) while train wrote its first epoch's log. Only `ensemble_run` goes on from it."""
    from test_interrupted_repro import TRAIN_STAGING, interrupt_twice

    base = tmp_path_factory.mktemp("ensemble_run")
    repo, env = copy_run(tiny_run, base / "repo")
    return repo, env, interrupt_twice(repo, env, {"train": {"ensemble": 2, "ensemble_split": "all"}}, TRAIN_STAGING,
                                      base)


@pytest.fixture(scope="session")
def ensemble_run(ensemble_interrupted):
    """(repo, env, result of its `dvc repro`): `ensemble_interrupted` reproduced: train and every stage after it
    rerun. Read by test_pipeline (a train param change reruns train and what follows), test_report (the ensemble's
    model and report) and test_interrupted_repro (an interrupted train finishes cleanly), so the suite pays for one
    such rerun, not three. Never change it."""
    repo, env, _ = ensemble_interrupted
    return repo, env, dvc("repro", cwd=repo, env=env)


@pytest.fixture
def reproduced_copy(tiny_run, tmp_path):
    """(repo, env) of a copy of `tiny_run` for one test: every stage already run, `dvc status` up to date."""
    return copy_run(tiny_run, tmp_path / "repo")


# --- real MNIST digits and the model trained on them (tests/test_predict*.py, test_serve.py, ...) ---------

PREDICT_SAMPLE_SIZE = 100


@pytest.fixture(scope="session")
def digits():
    """(images, labels) of 100 random MNIST test digits, the same for every style."""
    from mnist_pipeline.predict import styles
    return styles.sample_digits(REAL_MNIST, PREDICT_SAMPLE_SIZE, seed=7)


# The stages of `real_mnist_run`: what its readers use (the dataset counts, the trained model, its test accuracy
# and the figures). The stages after them (export, robustness, fetch_not_digits, not_a_digit, report) run on the
# tiny data in `tiny_run`; on the real files not_a_digit alone (its head fitted and measured on about 56,000
# digits passed through predict's preparation) would take minutes.
REAL_MNIST_TARGET = "visualize"


@pytest.fixture(scope="session")
def real_mnist_run(tmp_path_factory):
    """(repo, env, result of `dvc repro REAL_MNIST_TARGET`): the pipeline up to visualize (download, preprocess,
    train, calibrate, evaluate, visualize) on the real MNIST files with the fast recipe (presets/fast.yaml: a narrow
    CNN, 2 epochs; about 99% test accuracy) and tiny figures, run once per session: the suite's training of the
    pipeline's own model on real digits. Skips where the MNIST files are absent."""
    if not REAL_MNIST.is_dir():
        pytest.skip(f"MNIST files not found in {REAL_MNIST}")
    repo, env = make_pipeline_copy(tmp_path_factory.mktemp("real_mnist"))
    real_files = load_params("dataset.files", path=ROOT / "params.yaml").dataset.files.model_dump()
    update_params(repo / "params.yaml", {**yaml.safe_load((ROOT / "presets" / "fast.yaml").read_text()),
                                         "dataset": {"files": real_files}})
    env = {**env, "MNIST_MIRROR": str(REAL_MNIST)}
    return repo, env, dvc("repro", REAL_MNIST_TARGET, cwd=repo, env=env)


@pytest.fixture(scope="session")
def real_mnist_model_file(real_mnist_run, tmp_path_factory):
    """The model of `real_mnist_run` (the fast recipe trained on real MNIST), alone in a folder of its own."""
    repo, _, _ = real_mnist_run
    path = tmp_path_factory.mktemp("fast_model") / "model.keras"
    shutil.copy(repo / "models" / "model.keras", path)
    return path


@pytest.fixture(scope="session")
def real_mnist_export(real_mnist_model_file, tmp_path_factory):
    """The LiteRT export of `real_mnist_model_file`, made as the export stage makes it (serve.py's default kind of
    model: the server starts in seconds even on a busy machine, where TensorFlow's import can take minutes), in a
    folder of its own with a not-a-digit detector fitted for the export (on its own heads) beside it: the model of
    the server tests (test_serve.py) and the browser tests (test_demo_browser.py), made once."""
    from mnist_pipeline.model import load_model
    from mnist_pipeline.predict.runtime import load_classifier
    from test_export import export
    from test_not_a_digit_predict import fit_detector_beside

    path = export(load_model(real_mnist_model_file), tmp_path_factory.mktemp("exported") / "model.tflite")
    return fit_detector_beside(path, load_classifier(path).heads)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """A small CNN (conv32-pool-conv64-pool-dropout-dense10) trained for 2 epochs on the 60,000 real
    MNIST training digits, saved as .keras (about 98% test accuracy), for the predict tests: the fast recipe's
    model of `real_mnist_run` recognised too few tightly cropped digits (test_style_is_classified[tight_*])."""
    from mnist_pipeline.predict import styles
    from mnist_pipeline.tf_runtime import keras
    layers = keras.layers

    keras.utils.set_random_seed(0)
    images, labels = styles.load_mnist(REAL_MNIST, "train")
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(images[..., np.newaxis] / np.float32(255), labels, batch_size=128, epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("model") / "small_cnn.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def model(model_file):
    """The small CNN, loaded the way predict.py loads a model."""
    from mnist_pipeline.model import load_model
    return load_model(model_file)


def encoded(image, fmt, **options):
    """The bytes of PIL `image` saved in format `fmt`."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def write_png_header(path, width, height, data=b""):
    """Writes a PNG whose header claims width x height pixels, followed by `data` as its only IDAT chunk."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path

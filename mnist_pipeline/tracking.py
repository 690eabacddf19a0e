"""DVCLive logging of the train and evaluate stages; docs/experiments.md says where each value lands.

Each log is a DVCLive directory under metrics/ (paths.py: TRAIN_LOG, TRAIN_SPEED_LOG, EVALUATE_LOG,
EVALUATE_SPEED_LOG) holding metrics.json, its summary, and plots/metrics/<name>.tsv, one row per epoch
(step = the epoch number). DVCLive writes there and nowhere else: no dvc.yaml of its own (dvc.yaml declares
these files) and no experiment commits (`dvc exp run` records the experiment). DVCLive empties its folder when
it starts, so a stage logs into a hidden staging folder beside the log (`.<name>.live`), which `finish` moves
into place once the stage has succeeded: an interrupted or failed run leaves the log already there whole.
In an experiment's temporary copy (`dvc exp run --queue` or `--temp`), where there is no log to keep, it logs
in place instead: the train stage rewrites its metrics.json after every epoch, and `dvc exp show` reads a
running experiment's files from that copy, so the table fills in epoch by epoch while the run goes.
"""
import os
import shutil
from pathlib import Path

from dvclive import Live
from scmrepo.exceptions import SCMError

from mnist_pipeline.files import replace_directory
from mnist_pipeline.history import SPEED_METRIC, member_prefix
from mnist_pipeline.paths import HISTORY_COLUMNS, TRAIN_LOG, TRAIN_SPEED_LOG
from mnist_pipeline.tf_runtime import keras

EPOCH_METRICS = tuple(name for name in HISTORY_COLUMNS[1:] if name != SPEED_METRIC)  # logged in TRAIN_LOG
VALIDATION_METRICS = ("val_loss", "val_accuracy")


class StageLive(Live):
    """DVCLive's logger, which also works in a git repository without commits yet (`git init`, then `dvc repro`).

    There dvclive 3.49 stops with `SCMError: Empty git repo` while it looks for the experiment's baseline
    commit; this logger then goes on as it does outside a repository (no DVC Studio updates; nothing else
    is lost: no experiment can run without a commit).
    """

    def _init_dvc(self):
        try:
            super()._init_dvc()
        except SCMError:
            self._dvc_repo, self._inside_dvc_exp = None, False


def in_temporary_copy():
    """Whether this stage runs in a DVC experiment's temporary copy: DVC then points DVC_ROOT at the repository
    the experiment was started from, elsewhere at the working directory (or sets no DVC_ROOT: not under DVC)."""
    root = os.environ.get("DVC_ROOT")
    return root is not None and Path(root).resolve() != Path.cwd().resolve()


def open_log(directory):
    """A DVCLive logger for the log in `directory`, writing into an empty staging folder (see the module's doc)."""
    directory = Path(directory)
    staging = directory if in_temporary_copy() else directory.parent / f".{directory.name}.live"
    if staging != directory:
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed run
    return StageLive(str(staging), dvcyaml=None, save_dvc_exp=False)


def finish(live, directory):
    """Ends DVCLive's log `live` (writing its summary) and moves what it wrote into `directory`, each folder and
    file in one step (the per-epoch plots first, then the summary), replacing what was there."""
    live.end()
    staging, directory = Path(live.dir), Path(directory)
    if staging == directory:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for entry in sorted(staging.iterdir(), key=lambda entry: (not entry.is_dir(), entry.name)):
        if entry.is_dir():
            replace_directory(entry, directory / entry.name)
        else:
            os.replace(entry, directory / entry.name)
    staging.rmdir()


def write_summary(directory, values):
    """Writes `values` as the summary (metrics.json) of the DVCLive log in `directory`."""
    live = open_log(directory)
    live.summary.update(values)
    finish(live, directory)


def rounded(value):
    """A logged value, to 6 significant digits."""
    return float(f"{float(value):.6g}")


class TrainingLog:
    """The train stage's logs: TRAIN_LOG (loss, accuracy, validation, learning rate) and TRAIN_SPEED_LOG (seconds)."""

    def __init__(self):
        self.live, self.speed = open_log(TRAIN_LOG), open_log(TRAIN_SPEED_LOG)

    def log_epoch(self, row, member, validation_held_out):
        """Logs one epoch's `row` (epoch number, Keras logs, EpochLog's learning rate and seconds) of `member`.

        A member trained on the validation images (train.ensemble_split: all) logs no validation figures.
        """
        prefix = member_prefix(member)
        for live in (self.live, self.speed):
            live.step = int(row["epoch"])
        for name in EPOCH_METRICS:
            if validation_held_out or name not in VALIDATION_METRICS:
                self.live.log_metric(prefix + name, rounded(row[name]))
        self.speed.log_metric(prefix + SPEED_METRIC, rounded(row[SPEED_METRIC]))
        for live in (self.live, self.speed):
            live.next_step()  # writes metrics.json, which a running `dvc exp show` reads

    def tracker(self, member, validation_held_out):
        """The Keras callback that logs each epoch of ensemble member `member` (1-based) here."""
        return EpochTracker(self, member, validation_held_out)

    def end(self, summary, speed_summary):
        """Adds the run's summary values to the two metrics.json files and moves both logs into place."""
        for live, values, directory in ((self.live, summary, TRAIN_LOG), (self.speed, speed_summary, TRAIN_SPEED_LOG)):
            live.summary.update(values)
            finish(live, directory)


class EpochTracker(keras.callbacks.Callback):
    """Logs every finished epoch of one network to a TrainingLog (after EpochLog has added its values)."""

    def __init__(self, log, member, validation_held_out):
        super().__init__()
        self.log, self.member, self.validation_held_out = log, member, validation_held_out

    def log_epochs(self, rows):
        """Logs history rows (dicts with `epoch`), such as the finished epochs a resumed run restored."""
        for row in rows:
            self.log.log_epoch(row, self.member, self.validation_held_out)

    def on_epoch_end(self, epoch, logs=None):
        self.log_epochs([{"epoch": epoch + 1, **logs}])

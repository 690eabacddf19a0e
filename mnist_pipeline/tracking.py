"""DVCLive logging of the train and evaluate stages; docs/experiments.md says where each value lands.

Each log is a DVCLive directory under metrics/ (paths.py: TRAIN_LOG, TRAIN_SPEED_LOG, EVALUATE_LOG,
EVALUATE_SPEED_LOG) holding metrics.json, its summary, and plots/metrics/<name>.tsv, one row per epoch
(step = the epoch number). DVCLive writes there and nowhere else: no dvc.yaml of its own (dvc.yaml declares
these files) and no experiment commits (`dvc exp run` records the experiment). The train stage rewrites its
metrics.json after every epoch, and `dvc exp show` reads a running experiment's files from its workspace (the
temporary copy of a queued one): the table fills in epoch by epoch while the run goes.
"""
from dvclive import Live
from scmrepo.exceptions import SCMError

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


def open_log(directory):
    """A DVCLive logger that writes into `directory` only, which it empties first."""
    return StageLive(str(directory), dvcyaml=None, save_dvc_exp=False)


def write_summary(directory, values):
    """Writes `values` as the summary (metrics.json) of the DVCLive log in `directory`."""
    live = open_log(directory)
    live.summary.update(values)
    live.end()


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
        """Adds the run's summary values to the two metrics.json files."""
        for live, values in ((self.live, summary), (self.speed, speed_summary)):
            live.summary.update(values)
            live.end()


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

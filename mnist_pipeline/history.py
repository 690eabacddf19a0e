"""The train stage's per-epoch history, read back from its DVCLive logs (mnist_pipeline.tracking).

Reads metrics/train/plots/metrics/<name>.tsv and metrics/train_speed/plots/metrics/seconds.tsv (columns
`step`, <name>; step = epoch) and returns them as one table with the columns of paths.HISTORY_COLUMNS.
"""
from functools import reduce

import pandas as pd

from mnist_pipeline.files import read_table
from mnist_pipeline.paths import HISTORY_COLUMNS, TRAIN_LOG, TRAIN_SPEED_LOG
from mnist_pipeline.stage import PipelineError

SPEED_METRIC = "seconds"  # the epoch's wall-clock time, logged in TRAIN_SPEED_LOG: it varies from run to run


class HistoryError(PipelineError):
    """A per-epoch log is missing or unreadable."""


def member_prefix(member):
    """The prefix of ensemble member `member`'s (1-based) logged names: none for the first (or only) network."""
    return "" if member == 1 else f"member{member}/"


def metric_file(name, member=1):
    """The TSV file DVCLive writes the per-epoch values of `name` (a HISTORY_COLUMNS name) of `member` to."""
    log = TRAIN_SPEED_LOG if name == SPEED_METRIC else TRAIN_LOG
    return log / "plots" / "metrics" / f"{member_prefix(member)}{name}.tsv"


def read_metric(name, member=1):
    """(epoch, `name`) rows of one per-epoch log; files.InputError or HistoryError, one line, if it is unusable."""
    path = metric_file(name, member)
    table = read_table(path, sep="\t", missing_hint="run `dvc repro` to produce it")
    if list(table.columns) != ["step", name] or table["step"].duplicated().any() or not all(
            pd.api.types.is_numeric_dtype(column) for _, column in table.items()):
        raise HistoryError(f"{path}: expected columns step, {name} and one row per epoch; "
                           "rerun the train stage")
    return table.rename(columns={"step": "epoch"})


def read_history(member=1):
    """The per-epoch history of ensemble member `member` (1-based; the only network when not an ensemble)."""
    tables = [read_metric(name, member) for name in HISTORY_COLUMNS[1:]]
    history = reduce(lambda left, right: left.merge(right, on="epoch", how="outer"), tables)
    if history.isna().any().any():
        raise HistoryError(f"{TRAIN_LOG}, {TRAIN_SPEED_LOG}: the per-epoch logs cover different epochs; "
                           "rerun the train stage")
    return history.sort_values("epoch", ignore_index=True)[list(HISTORY_COLUMNS)]

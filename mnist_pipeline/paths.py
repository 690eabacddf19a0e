"""Where each stage reads and writes, relative to the repository root (dvc.yaml declares the same),
and the columns of the training history and the predictions table."""
from pathlib import Path

RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
MODEL_FILE = Path("models/model.keras")
TRAIN_CHECKPOINT_DIR = Path("data/checkpoints/train")  # not a DVC output: lets a killed train stage resume

DATASET_METRICS = Path("metrics/dataset.json")
# DVCLive directories (mnist_pipeline.tracking): each holds metrics.json (the summary) and, for the train logs,
# plots/metrics/<name>.tsv (one row per epoch: step = epoch, value). The *_speed logs hold what varies from run to run.
TRAIN_LOG = Path("metrics/train")
TRAIN_SPEED_LOG = Path("metrics/train_speed")
EVALUATE_LOG = Path("metrics/evaluate")
EVALUATE_SPEED_LOG = Path("metrics/evaluate_speed")
TRAIN_METRICS = TRAIN_LOG / "metrics.json"
TRAIN_SPEED = TRAIN_SPEED_LOG / "metrics.json"
EVALUATE_METRICS = EVALUATE_LOG / "metrics.json"
EVALUATE_SPEED = EVALUATE_SPEED_LOG / "metrics.json"

# The per-epoch history (mnist_pipeline.history.read_history): `seconds` is logged in TRAIN_SPEED_LOG, the rest
# in TRAIN_LOG.
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")
PREDICTIONS_PLOT = Path("plots/predictions.csv")
PREDICTION_COLUMNS = ("index", "actual", "predicted", "confidence")
FIGURES_DIR = Path("plots/figures")
REPORT_FILE = Path("reports/report.md")
MODEL_CARD_FILE = Path("reports/model_card.md")

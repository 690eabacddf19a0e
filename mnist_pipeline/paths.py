"""Where each stage reads and writes, relative to the repository root (dvc.yaml declares the same),
and the columns of the two plot tables."""
from pathlib import Path

RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
MODEL_FILE = Path("models/model.keras")
TRAIN_CHECKPOINT_DIR = Path("data/checkpoints/train")  # not a DVC output: lets a killed train stage resume

DATASET_METRICS = Path("metrics/dataset.json")
TRAIN_METRICS = Path("metrics/train.json")
TRAIN_SPEED = Path("metrics/train_speed.json")
EVALUATE_METRICS = Path("metrics/evaluate.json")
EVALUATE_SPEED = Path("metrics/evaluate_speed.json")

HISTORY_PLOT = Path("plots/history.csv")
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")
PREDICTIONS_PLOT = Path("plots/predictions.csv")
PREDICTION_COLUMNS = ("index", "actual", "predicted", "confidence")
FIGURES_DIR = Path("plots/figures")
REPORT_FILE = Path("reports/report.md")
MODEL_CARD_FILE = Path("reports/model_card.md")

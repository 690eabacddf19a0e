"""Stage 6, report: writes the run report and the model card from the pipeline's outputs.

Reads metrics/{dataset,train,train_speed,evaluate,evaluate_speed}.json, plots/history.csv,
plots/predictions.csv, models/model.keras (the layer table), checks that plots/figures/*.png exist
(the report links them) and reads params `dataset.name`, `dataset.class_names`, `train` and
`evaluate.test_time_shift_px`.
Writes reports/report.md and reports/model_card.md.
"""
import sys

from mnist_pipeline import report
from mnist_pipeline.files import write_text
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import (DATASET_METRICS, EVALUATE_METRICS, EVALUATE_SPEED, FIGURES_DIR, HISTORY_COLUMNS,
                                  HISTORY_PLOT, MODEL_CARD_FILE, MODEL_FILE, PREDICTION_COLUMNS, PREDICTIONS_PLOT,
                                  REPORT_FILE, TRAIN_METRICS, TRAIN_SPEED)
from mnist_pipeline.stage import run_stage


def main():
    params = load_params("dataset.name", "dataset.class_names", "train", "evaluate.test_time_shift_px")
    class_names = params.dataset.class_names
    inputs = dict(
        dataset=report.read_json(DATASET_METRICS, report.SPLITS),
        train=report.read_json(TRAIN_METRICS, ("best_epoch", "best_val_accuracy")),
        train_speed=report.read_json(TRAIN_SPEED, ("training_seconds", "train_images_per_second",
                                                   "peak_memory_mib")),
        evaluation=report.read_json(EVALUATE_METRICS, ("test_accuracy", "test_loss", "macro_precision",
                                                       "macro_recall", "macro_f1", "misclassified",
                                                       "per_class_accuracy")),
        evaluate_speed=report.read_json(EVALUATE_SPEED, ("eval_images_per_second",)),
        history=report.read_csv(HISTORY_PLOT, HISTORY_COLUMNS),
        predictions=report.read_csv(PREDICTIONS_PLOT, PREDICTION_COLUMNS),
        figures=report.figure_links(FIGURES_DIR, REPORT_FILE.parent),
    )
    report.require_classes(EVALUATE_METRICS, inputs["evaluation"]["per_class_accuracy"], class_names)
    for split in report.SPLITS:
        report.require_classes(DATASET_METRICS, inputs["dataset"][split], class_names)

    from mnist_pipeline.model import load_model  # imported after the checks: TensorFlow takes seconds to load
    model = report.describe_model(load_model(MODEL_FILE, len(class_names)))
    outputs = report.RunOutputs(dataset_name=params.dataset.name, class_names=class_names,
                                train_params=params.train.model_dump(),
                                test_time_shift_px=params.evaluate.test_time_shift_px, model=model, **inputs)
    write_text(REPORT_FILE, report.render_report(outputs))
    write_text(MODEL_CARD_FILE, report.render_model_card(outputs))
    print(f"wrote {REPORT_FILE} and {MODEL_CARD_FILE}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

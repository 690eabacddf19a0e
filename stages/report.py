"""Stage 6, report: writes the run report and the model card from the pipeline's outputs.

Reads the dataset, train and evaluate metrics, the per-epoch history, plots/predictions.csv,
models/model.keras (the layer table), models/calibration.json (the temperature and validation ECE) and
metrics/robustness.json and metrics/not_a_digit.json, checks that plots/figures/*.png, plots/robustness/examples.png
and plots/not_a_digit/examples.png exist (the report links them)
(mnist_pipeline/report/inputs.py; the paths are in mnist_pipeline/paths.py) and reads params `dataset.name`,
`dataset.class_names`, `train` and `evaluate.test_time_shift_px`.
Writes reports/report.md and reports/model_card.md from the templates in mnist_pipeline/report/templates/.
"""
import sys

from mnist_pipeline.files import write_text
from mnist_pipeline.params import load_params
from mnist_pipeline.paths import MODEL_CARD_FILE, REPORT_FILE
from mnist_pipeline.report.inputs import read_run_outputs
from mnist_pipeline.report.render import render_model_card, render_report
from mnist_pipeline.stage import run_stage


def main():
    params = load_params("dataset.name", "dataset.class_names", "train", "evaluate.test_time_shift_px")
    outputs = read_run_outputs(params.dataset.name, params.dataset.class_names, params.train.model_dump(),
                               params.evaluate.test_time_shift_px)
    write_text(REPORT_FILE, render_report(outputs))
    write_text(MODEL_CARD_FILE, render_model_card(outputs))
    print(f"wrote {REPORT_FILE} and {MODEL_CARD_FILE}")


if __name__ == "__main__":
    sys.exit(run_stage(main))

"""The calibrate stage and what reads its models/calibration.json: the stage fits on the validation split only,
predict.py and the demo server give the calibrated confidence and `unsure`, the report's Calibration section,
and the stage in a whole `dvc repro` of the tiny pipeline copy."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image, ImageDraw

from conftest import ROOT, TINY_RUN_GROUP
from mnist_pipeline.calibration import (CALIBRATION_FILE, RELIABILITY_COLUMNS, RELIABILITY_PLOT, apply_temperature,
                                        fit_temperature, read_calibration)
from mnist_pipeline.paths import EVALUATE_METRICS, FIGURES_DIR, MODEL_FILE, REPORT_FILE
from synthetic import make_images


def test_dvc_yaml_fits_the_temperature_on_the_validation_split_only():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    deps = stages["calibrate"]["deps"]
    assert {"data/prepared/x_val.npy", "data/prepared/y_val.npy", str(MODEL_FILE)} <= set(deps)
    assert not [dep for dep in deps if "test" in dep or dep == "data/prepared"]
    assert str(CALIBRATION_FILE) in stages["evaluate"]["deps"] and str(CALIBRATION_FILE) in stages["report"]["deps"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An untrained tiny CNN of the pipeline's architecture saved as .keras: its answers are near uniform,
    which is all these tests need (they check the arithmetic, not the accuracy)."""
    from mnist_pipeline.model import build_model
    from mnist_pipeline.schema import Model
    from mnist_pipeline.tf_runtime import keras

    keras.utils.set_random_seed(1)
    model = build_model(Model(conv_blocks=[{"filters": 4, "convs": 1}], batchnorm=False, activation="relu",
                              dense_units=0, dropout=0.0), 10)
    path = tmp_path_factory.mktemp("tiny_model") / "model.keras"
    model.save(path)
    return path


def test_the_stage_reads_only_the_validation_split(tiny_model, tmp_path, monkeypatch):
    """The stage runs where no test arrays exist, asks load_split for "val" only, and its temperature is the fit
    on the model's validation probabilities."""
    from mnist_pipeline.data import save_split
    from mnist_pipeline.model import load_model, predict_probabilities
    from stages import calibrate

    labels = np.arange(120) % 10
    x_val = (make_images(labels, seed=3).astype(np.float32) / 255)[..., np.newaxis]
    save_split(tmp_path / "data/prepared", "val", x_val, labels.astype(np.uint8))
    (tmp_path / "models").mkdir()
    shutil.copy(tiny_model, tmp_path / MODEL_FILE)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    load_split, splits = calibrate.load_split, []

    def spy(directory, split, num_classes=None):
        splits.append(split)
        return load_split(directory, split, num_classes)

    monkeypatch.setattr(calibrate, "load_split", spy)
    calibrate.main()

    assert splits == ["val"] and not list((tmp_path / "data/prepared").glob("*test*"))
    record = read_calibration(CALIBRATION_FILE, MODEL_FILE)
    probabilities = predict_probabilities(load_model(MODEL_FILE), x_val, 1000)
    assert record["temperature"] == pytest.approx(fit_temperature(probabilities, labels), abs=1e-5)
    assert record["validation_images"] == 120 and record["bins"] == 15 and record["unsure_below"] == 0.8


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Two pictures of digit-like ink: a bar (a 1) and a ring (a 0)."""
    folder = tmp_path_factory.mktemp("pictures")
    for name, draw in (("bar.png", lambda d: d.line((50, 15, 50, 85), fill=0, width=8)),
                       ("ring.png", lambda d: d.ellipse((25, 15, 75, 85), outline=0, width=8))):
        image = Image.new("L", (100, 100), 255)
        draw(ImageDraw.Draw(image))
        image.save(folder / name)
    return sorted(folder.glob("*.png"))


def run_predict(capsys, *args):
    """(exit status, stdout, stderr) of predict.py's main in this process."""
    from mnist_pipeline.predict import cli
    try:
        status = cli.main([str(arg) for arg in args])
    except SystemExit as end:
        status = end.code
    out, err = capsys.readouterr()
    return status, out, err


def test_predict_gives_the_calibrated_confidence_and_unsure(tiny_model, pictures, tmp_path, capsys):
    from mnist_pipeline.calibration import file_sha256
    from mnist_pipeline.model import load_model
    from mnist_pipeline.predict import cli
    from mnist_pipeline.predict.readings import reading_probabilities

    model_file = tmp_path / "model.keras"
    shutil.copy(tiny_model, model_file)
    _, readings = cli.prepare_all(pictures, lambda path, problem: pytest.fail(f"{path}: {problem}"))
    raw = reading_probabilities(load_model(model_file).predict_on_batch, readings, cli.BATCH_SIZE)

    status, out, _ = run_predict(capsys, *pictures, "--model", model_file, "--shift-px", 0, "--format", "json")
    rows = json.loads(out)
    assert status == 0 and [row["calibrated"] for row in rows] == [False, False]
    assert [row["confidence"] for row in rows] == [round(float(p), 4) for p in raw.max(axis=1)]

    temperature = 0.05
    calibrated = apply_temperature(raw, temperature).max(axis=1)
    assert calibrated[0] != calibrated[1]
    unsure_below = float(calibrated.mean())  # one answer above, one below
    (tmp_path / "calibration.json").write_text(json.dumps({
        "temperature": temperature, "unsure_below": unsure_below, "model_sha256": file_sha256(model_file),
        "bins": 15, "validation_ece_before": 0.1, "validation_ece_after": 0.01}))
    status, out, _ = run_predict(capsys, *pictures, "--model", model_file, "--shift-px", 0, "--format", "json")
    rows = json.loads(out)
    assert status == 0 and [row["calibrated"] for row in rows] == [True, True]
    assert [row["confidence"] for row in rows] == [round(float(c), 4) for c in calibrated]
    assert [row["unsure"] for row in rows] == [bool(c < unsure_below) for c in calibrated]
    assert sorted(row["unsure"] for row in rows) == [False, True]

    status, out, _ = run_predict(capsys, *pictures, "--model", model_file, "--shift-px", 0)
    header, *lines = out.splitlines()
    assert status == 0 and "unsure" in header.split() and "uncalibrated" not in out
    lines = [line for line in lines if line.startswith(str(pictures[0].parent))]  # without notes under the table
    assert [line.split()[3] for line in lines] == ["yes" if row["unsure"] else "no" for row in rows]
    status, out, _ = run_predict(capsys, *pictures, "--model", model_file, "--shift-px", 0, "--format", "csv")
    csv_rows = out.splitlines()[1:]
    assert [line.split(",")[3:5] for line in csv_rows] == [[str(row["unsure"]).lower(), "true"] for row in rows]

    (tmp_path / "calibration.json").write_text('{"temperature": "warm"}')
    status, out, err = run_predict(capsys, *pictures, "--model", model_file)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {tmp_path / 'calibration.json'}: ") and "missing" in err


@pytest.mark.slow
def test_the_server_gives_predict_py_s_calibrated_answers(tiny_model, pictures, tmp_path, capsys):
    from mnist_pipeline.calibration import file_sha256
    from mnist_pipeline.serve.client import post_images, request, start_server, stop_server

    model_file = tmp_path / "model.keras"
    shutil.copy(tiny_model, model_file)
    (tmp_path / "calibration.json").write_text(json.dumps({
        "temperature": 0.05, "unsure_below": 0.5, "model_sha256": file_sha256(model_file), "bins": 15,
        "validation_ece_before": 0.1, "validation_ece_after": 0.01}))
    _, out, _ = run_predict(capsys, *pictures, "--model", model_file, "--format", "json")
    printed = json.loads(out)
    process, url = start_server(model_file)
    try:
        health = request(url + "api/health")[1]
        status, served = post_images(url + "api/predict", [(path.name, path.read_bytes()) for path in pictures])
    finally:
        stop_server(process)
    assert health["calibration"]["calibrated"] and health["calibration"]["temperature"] == 0.05
    keys = ("digit", "confidence", "unsure", "calibrated", "top3")
    assert status == 200 and [[row[k] for k in keys] for row in served] == [[row[k] for k in keys] for row in printed]
    assert all(row["calibrated"] for row in served)


def test_the_report_has_a_calibration_section():
    from mnist_pipeline.report.render import render_model_card, render_report
    from test_report_render import made_up_run

    report, card = render_report(made_up_run()), render_model_card(made_up_run())
    section = report.split("\n## Calibration\n", 1)[1].split("\n## ", 1)[0]
    assert "T = 1.500" in section and "T > 1 softens" in section
    assert "| validation (fitted on) | 0.0700 | 0.0200 |" in section and "| 0.0800 | 0.0300 |" in section
    # the made-up predictions: three answers under 80%, all three wrong
    assert "3 test answers (10.00%) have a confidence under 80%" in section
    assert "0.00% of them are right, against 100.00% of the others, and they hold 3 of the 3 mistakes" in section
    assert "](../plots/figures/reliability.png)" in section
    assert "over-confident (expected calibration error 0.0800 on the test split)" in card
    assert "| expected calibration error (15 bins), calibrated | 0.0300 (raw: 0.0800) |" in card


@pytest.mark.slow
@TINY_RUN_GROUP
def test_a_whole_run_calibrates_evaluates_draws_and_reports(tiny_run):
    """The tiny pipeline's `dvc repro` (conftest's session run): the temperature fitted for its model, the test ECE
    before and after it, the reliability data and figure, and the report's section."""
    repo, _, result = tiny_run
    assert "Running stage 'calibrate'" in result.stdout
    calibration = read_calibration(repo / CALIBRATION_FILE, repo / MODEL_FILE)
    evaluation = json.loads((repo / EVALUATE_METRICS).read_text())
    assert evaluation["temperature"] == calibration["temperature"]
    assert 0 <= evaluation["test_ece_calibrated"] <= 1 and 0 <= evaluation["test_ece"] <= 1
    reliability = pd.read_csv(repo / RELIABILITY_PLOT)
    assert tuple(reliability.columns) == RELIABILITY_COLUMNS
    assert set(reliability["calibration"]) == {"before", "after"}
    test_images = len(np.load(repo / "data/prepared/y_test.npy"))
    assert (reliability.groupby("calibration")["count"].sum() == test_images).all()
    assert (repo / FIGURES_DIR / "reliability.png").stat().st_size > 0
    assert "\n## Calibration\n" in (repo / REPORT_FILE).read_text()

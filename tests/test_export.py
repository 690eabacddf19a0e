"""Tests the LiteRT export (stages/export.py, mnist_pipeline/export.py) and the classifier that predict.py and the
demo server load (mnist_pipeline/predict/runtime.py): the export answers as the Keras model does, files are
told apart by their content, bad files are one line, and the stage refuses an export that disagrees.

A tiny randomly initialised network stands in for the trained one (exporting it takes seconds); the stage's run in
the session's `dvc repro` of the tiny pipeline (conftest `tiny_run`) is checked too (slow).
"""
import json
import sys

import numpy as np
import pytest

from conftest import ROOT, TINY_RUN_GROUP, dvc, run
from mnist_pipeline.calibration import file_sha256
from mnist_pipeline.files import InputError
from mnist_pipeline.predict import runtime
from mnist_pipeline.predict.runtime import ClassifierFileError, load_classifier, model_format, predict_probabilities


def tiny_network(input_shape=(28, 28, 1), classes=10):
    """An untrained (seeded) conv net with the pipeline model's input and output."""
    from mnist_pipeline.tf_runtime import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(input_shape), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                             keras.layers.Dense(classes, activation="softmax")])


def export(model, path):
    """Writes the LiteRT export of `model` to `path` as the export stage does; returns path."""
    from mnist_pipeline.export import exported_litert

    with exported_litert(model, path):
        pass
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(keras file, its .tflite export) of `tiny_network`."""
    folder = tmp_path_factory.mktemp("tiny")
    model = tiny_network()
    model.save(folder / "model.keras")
    return folder / "model.keras", export(model, folder / "model.tflite")


@pytest.fixture(scope="module")
def images():
    """(50, 28, 28, 1) float32 stroke-like inputs in [0, 1]."""
    rng = np.random.default_rng(1)
    return (rng.random((50, 28, 28, 1)) ** 8).astype(np.float32)


@pytest.mark.parametrize("shift_px", [0, 2])
def test_the_export_answers_as_the_keras_model(tiny, images, shift_px):
    from mnist_pipeline.model import load_model, predict_probabilities as keras_probabilities

    keras_file, litert_file = tiny
    expected = keras_probabilities(load_model(keras_file), images, 16, shift_px)
    exported = predict_probabilities(load_classifier(litert_file), images, 16, shift_px)
    via_keras = predict_probabilities(load_classifier(keras_file), images, 16, shift_px)
    np.testing.assert_allclose(exported, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(exported.argmax(1), expected.argmax(1))
    np.testing.assert_array_equal(via_keras, expected)  # a .keras file still runs on Keras, unchanged


@pytest.mark.parametrize("count", [None, 0], ids=["all", "none"])
def test_the_export_gives_the_not_a_digit_detector_the_keras_features(tiny, images, count):
    images = images[:count]
    keras_heads, litert_heads = (load_classifier(path).heads(images) for path in tiny)
    for name, ours, theirs in zip(("features", "logits", "probabilities", "activations"), litert_heads, keras_heads,
                                  strict=True):
        assert ours.shape == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max(initial=0), err_msg=name)


def test_litert_answers_do_not_depend_on_the_batch(tiny, images):
    """The server batches requests that arrive together; predict.py batches all files: same numbers either way."""
    classify = load_classifier(tiny[1])
    one_by_one = np.concatenate([classify(images[i:i + 1]) for i in range(len(images))])
    np.testing.assert_array_equal(predict_probabilities(classify, images, 256), one_by_one)


def test_files_are_told_apart_by_content(tiny, tmp_path):
    keras_file, litert_file = tiny
    assert model_format(keras_file) == "keras" and model_format(litert_file) == "litert"
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(litert_file.read_bytes())
    assert model_format(renamed) == "litert"
    text = tmp_path / "notes.tflite"
    text.write_text("not a model at all")
    with pytest.raises(ClassifierFileError, match=r"notes.tflite: not a model: expected a LiteRT flatbuffer"):
        load_classifier(text)
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(InputError, match="empty.tflite: is empty"):
        load_classifier(tmp_path / "empty.tflite")
    with pytest.raises(InputError, match=r"missing.tflite.*run `dvc repro`"):
        load_classifier(tmp_path / "missing.tflite")


def test_a_damaged_or_foreign_litert_file_is_one_line(tiny, tmp_path):
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(tiny[1].read_bytes()[:5000])
    with pytest.raises(ClassifierFileError, match=r"^.*cut.tflite: cannot load the LiteRT model \(.*\)$"):
        load_classifier(cut)
    plain = tmp_path / "plain.tflite"  # probabilities only: not made by the export stage
    tiny_network().export(str(plain), format="litert", verbose=False)
    with pytest.raises(ClassifierFileError, match=r"plain.tflite: cannot load the LiteRT model \(its signature is .*; "
                                                  r"expected image -> probabilities, features, logits"):
        load_classifier(plain)
    foreign = export(tiny_network((32, 32, 1), classes=3), tmp_path / "foreign.tflite")
    with pytest.raises(ClassifierFileError, match=r"foreign.tflite: model maps \(-1, 32, 32, 1\) to \(-1, 3\); "
                                                  r"expected \(-1, 28, 28, 1\) to \(-1, 10\)"):
        load_classifier(foreign)


@pytest.fixture
def stage_folder(tiny, images, tmp_path, monkeypatch):
    """A folder laid out as the repository for the export stage: models/model.keras and the test split."""
    from mnist_pipeline.data import save_split

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.keras").write_bytes(tiny[0].read_bytes())
    save_split(tmp_path / "data" / "prepared", "test", images, np.arange(len(images)) % 10)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_stage_writes_the_export_and_names_its_source(stage_folder, capsys):
    from mnist_pipeline.stage import run_stage
    from stages import export

    assert run_stage(export.main) == 0
    record = json.loads((stage_folder / runtime.EXPORT_METRICS).read_text())
    assert record["argmax_disagreements"] == 0 and record["max_abs_delta_p"] < 1e-5
    assert record["max_relative_delta_features"] < 1e-5
    assert record["test_images"] == 50 and record["source"] == "models/model.keras"
    exported = stage_folder / runtime.EXPORTED_MODEL_FILE
    assert model_format(exported) == "litert" and record["exported_bytes"] == exported.stat().st_size
    assert "0 of 50 test digits differ" in capsys.readouterr().out
    # The calibration and test accuracy of models/model.keras apply to its export, and only while both are unchanged
    assert runtime.source_model(exported, stage_folder) == stage_folder / "models" / "model.keras"
    (stage_folder / "models" / "model.keras").write_bytes(b"retrained")
    assert runtime.source_model(exported, stage_folder) == exported


def test_the_stage_refuses_an_export_that_disagrees(stage_folder, monkeypatch, capsys):
    from mnist_pipeline.stage import run_stage
    from stages import export

    monkeypatch.setattr(export, "MAX_ABS_DELTA_P", 0.0)
    assert run_stage(export.main) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: models/model.keras: its LiteRT export disagrees with it on the test split (")
    assert len(error.splitlines()) == 1
    assert not (stage_folder / "models" / "model.tflite").exists()
    assert not (stage_folder / runtime.EXPORT_METRICS).exists()
    assert [p.name for p in (stage_folder / "models").iterdir()] == ["model.keras"]  # no temporary file left


@pytest.mark.slow
def test_predict_py_answers_alike_from_the_export_and_the_keras_file(tiny, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(np.where(rng.random((60, 60)) > 0.9, 0, 255).astype(np.uint8)).save(paths[-1])
    answers = [json.loads(run([sys.executable, "predict.py", "--format", "json", "--model", model, *paths],
                              cwd=ROOT).stdout) for model in tiny]
    for keras_row, litert_row in zip(*answers, strict=True):
        assert keras_row["digit"] == litert_row["digit"]
        assert keras_row["confidence"] == pytest.approx(litert_row["confidence"], abs=2e-4)  # printed rounded


@pytest.mark.slow
@TINY_RUN_GROUP
def test_dvc_repro_exports_the_trained_model(tiny_run, reproduced_copy):
    """The export stage in the session's `dvc repro` of the tiny pipeline (conftest `tiny_run`), read in a copy."""
    assert "Running stage 'export'" in tiny_run[2].stdout
    repo, env = reproduced_copy
    record = json.loads((repo / runtime.EXPORT_METRICS).read_text())
    assert record["argmax_disagreements"] == 0 and record["max_abs_delta_p"] < 1e-5
    assert record["source_sha256"] == file_sha256(repo / "models" / "model.keras")
    assert runtime.source_model(repo / runtime.EXPORTED_MODEL_FILE, repo) == repo / "models" / "model.keras"
    assert "changed" not in dvc("status", "export", cwd=repo, env=env).stdout

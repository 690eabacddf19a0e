"""params.yaml validation: the committed file is valid and read as DVC reads it; each bad value, key or
file gets one line naming it; presets merge on top with the same checks."""
import shutil

import pytest
import yaml

from conftest import ROOT, update_params
from mnist_pipeline.params import ParamsError, load_params, merge_preset

ALL_KEYS = ("dataset", "preprocess", "model", "train", "evaluate", "visualize")


@pytest.fixture
def params_path(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    return path


def error_of(path, *keys):
    with pytest.raises(ParamsError) as err:
        load_params(*(keys or ALL_KEYS), path=path)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_committed_params_are_valid_and_typed():
    params = load_params(*ALL_KEYS, path=ROOT / "params.yaml")
    assert params.preprocess.val_fraction == 0.2
    assert params.dataset.class_names == [str(digit) for digit in range(10)]
    assert params.model.conv_blocks[0].filters == 32 and params.model.batchnorm is True
    assert params.train.augment.rotation_deg == 8.0 and isinstance(params.train.augment.rotation_deg, float)
    assert params.dataset.files.train_images.name == "train-images-idx3-ubyte.gz"


def test_only_the_requested_keys_are_read(params_path):
    update_params(params_path, {"evaluate": {"batch_size": 0}, "dataset": {"name": ""}})
    params = load_params("evaluate.test_time_shift_px", "dataset.class_names", path=params_path)
    assert params.evaluate.test_time_shift_px == 0 and len(params.dataset.class_names) == 10
    assert params.train is None and params.model is None
    with pytest.raises(AttributeError):
        params.evaluate.batch_size  # noqa: B018 (declared nowhere, so not there)
    assert error_of(params_path, "evaluate") == (
        f"{params_path}: evaluate.batch_size = 0 is invalid; expected an integer in [1, 100000]")
    assert error_of(params_path, "dataset.name") == (
        f"{params_path}: dataset.name = '' is invalid; expected a non-empty string")


@pytest.mark.parametrize("change, message", [
    ({"train": {"epochs": 0}}, "train.epochs = 0 is invalid; expected an integer in [1, 1000]"),
    ({"train": {"epochs": 2.5}}, "train.epochs = 2.5 is invalid; expected an integer in [1, 1000]"),
    ({"train": {"epochs": True}}, "train.epochs = True is invalid; expected an integer in [1, 1000]"),
    ({"train": {"epochs": "3"}}, "train.epochs = '3' is invalid; expected an integer in [1, 1000]"),
    ({"preprocess": {"val_fraction": 1.0}}, "preprocess.val_fraction = 1.0 is invalid; expected a number in (0, 1)"),
    ({"preprocess": {"val_fraction": 0}}, "preprocess.val_fraction = 0 is invalid; expected a number in (0, 1)"),
    ({"train": {"learning_rate": 0}}, "train.learning_rate = 0 is invalid; expected a number in (0, 1]"),
    ({"train": {"learning_rate": "fast"}}, "train.learning_rate = 'fast' is invalid; expected a number in (0, 1]"),
    ({"train": {"learning_rate": float("nan")}}, "train.learning_rate = nan is invalid; expected a number in (0, 1]"),
    ({"train": {"optimizer": "sgd"}}, "train.optimizer = 'sgd' is invalid; expected one of adam, adamw"),
    ({"model": {"activation": "tanhh"}},
     "model.activation = 'tanhh' is invalid; expected one of relu, gelu, silu, elu"),
    ({"model": {"batchnorm": 1}}, "model.batchnorm = 1 is invalid; expected true or false"),
    ({"model": {"conv_blocks": [{"filters": 8, "convs": 1, "kind": "sep"}]}},
     "model.conv_blocks[0].kind is not a known key; allowed: convs, filters"),
    ({"model": {"conv_blocks": [{"filters": 8, "convs": 1}, {"filters": 9999, "convs": 1}]}},
     "model.conv_blocks[1].filters = 9999 is invalid; expected an integer in [1, 1024]"),
    ({"model": {"conv_blocks": [8]}}, "model.conv_blocks[0] = 8 is invalid; expected a mapping"),
    ({"model": {"conv_blocks": []}},
     "model.conv_blocks = [] is invalid; expected a list of 1 to 3 blocks (28 px halves at each)"),
    ({"train": {"warmup_epochs": 99}}, "train.warmup_epochs = 99 is invalid; expected an integer in [0, 8]"),
    ({"train": {"ensemble": 2, "strategy": "multi_worker"}},
     "train.ensemble = 2 is invalid; expected 1 with train.strategy multi_worker"),
    ({"train": {"momentum": 0.9}},
     "train.momentum is not a known key; allowed: augment, batch_size, ensemble, ensemble_split,"),
    ({"train": {"augment": {"zoom": [1]}}}, "train.augment.zoom = [1] is invalid; expected a number in [0, 0.5]"),
    ({"train": {"augment": 3}}, "train.augment = 3 is invalid; expected a mapping"),
    ({"train": {"ensemble_split": "bagging"}},
     "train.ensemble_split = 'bagging' is invalid; expected one of same, folds, all"),
    ({"train": {"precision": "float16"}},
     "train.precision = 'float16' is invalid; expected one of auto, float32, mixed_bfloat16, mixed_float16"),
    ({"dataset": {"class_names": ["a", "b"]}},
     "dataset.class_names = ['a', 'b'] is invalid; expected a list of 10 distinct class names"),
    ({"dataset": {"class_names": list("abcdefghia")}},
     "dataset.class_names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'a'] is invalid; expected a list of 10 "
     "distinct class names"),
    ({"dataset": {"mirrors": []}}, "dataset.mirrors = [] is invalid; expected a non-empty list of URLs"),
    ({"dataset": {"files": {"train_images": {"name": "x.gz", "sha256": "abc"}}}},
     "dataset.files.train_images.sha256 = 'abc' is invalid; expected 64 lowercase hex digits"),
    ({"dataset": {"files": {"train_images": {"name": "x.gz"}}}}, "dataset.files.train_images.sha256 is missing"),
    ({"evaluate": {"test_time_shift_px": 9}},
     "evaluate.test_time_shift_px = 9 is invalid; expected an integer in [0, 4]"),
    ({"visualize": {"dpi": 5}}, "visualize.dpi = 5 is invalid; expected an integer in [50, 600]"),
    ({"train": {"worker_timeout_s": 0}}, "train.worker_timeout_s = 0 is invalid; expected an integer in [1, 86400]"),
])
def test_bad_value_is_named(params_path, change, message):
    if "files" in change.get("dataset", {}):  # replaces the whole file entry
        params = yaml.safe_load(params_path.read_text())
        params["dataset"]["files"].update(change["dataset"]["files"])
        params_path.write_text(yaml.safe_dump(params))
    else:
        update_params(params_path, change)
    assert error_of(params_path).startswith(f"{params_path}: {message}")


def test_auto_precision_is_allowed(params_path):
    update_params(params_path, {"train": {"precision": "auto"}})
    assert load_params("train", path=params_path).train.precision == "auto"


def test_missing_keys_and_sections(params_path, tmp_path):
    params_path.write_text(params_path.read_text().replace("  seed: 42\n  epochs: 9", "  epochs: 9"))
    assert error_of(params_path, "train") == f"{params_path}: train.seed is missing"
    params_path.write_text(yaml.safe_dump({"train": {}, "dataset": {"name": "x"}}))
    assert error_of(params_path, "model") == f"{params_path}: model is missing"
    assert error_of(params_path, "dataset.files") == f"{params_path}: dataset.files is missing"
    assert error_of(tmp_path / "nowhere.yaml") == f"{tmp_path / 'nowhere.yaml'}: file not found (run from the " \
                                                   "repository root)"


def test_numbers_are_read_as_dvc_reads_them(params_path):
    """DVC parses YAML 1.2: `3e-3` is a float there (PyYAML would read the string "3e-3")."""
    params_path.write_text(params_path.read_text().replace("learning_rate: 0.003", "learning_rate: 3e-3"))
    assert load_params("train", path=params_path).train.learning_rate == 0.003


@pytest.mark.parametrize("content, message", [
    (b"train: [unclosed\n", ":2:1: not valid YAML (expected ',' or ']', but got '<stream end>')"),
    (b"train:\n  epochs: 1\n  epochs: 2\n",
     ':3:3: not valid YAML (found duplicate key "epochs" with value "2" (original value: "1"))'),
    (b"# caf\xe9\ntrain: {}\n", ":1:6: not valid UTF-8 (byte 0xe9)"),
    (b"", ": the file is empty; expected a mapping of sections"),
    (b"# nothing but a comment\n", ": the file is empty; expected a mapping of sections"),
    (b"- train\n- model\n", ": expected a mapping of sections, got list"),
    (b"train: !!python/object:os.system {}\n",
     ":1:8: not valid YAML (could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system')"),
])
def test_unreadable_file_is_one_line(params_path, content, message):
    params_path.write_bytes(content)
    assert error_of(params_path, "train") == f"{params_path}{message}"


def test_directory_is_one_line(tmp_path):
    (tmp_path / "params.yaml").mkdir()
    assert error_of(tmp_path / "params.yaml") == f"{tmp_path / 'params.yaml'}: cannot be read (Is a directory)"


def test_preset_merges_on_typed_params(tmp_path):
    params = load_params("model", "train", "evaluate", path=ROOT / "params.yaml")
    fast = merge_preset(params, ROOT / "presets" / "fast.yaml")
    assert (fast.train.epochs, fast.train.learning_rate, fast.model.conv_blocks[0].filters) == (2, 0.01, 16)
    assert fast.train.optimizer == params.train.optimizer and params.train.epochs == 9  # the original unchanged
    robust = merge_preset(params, ROOT / "presets" / "robust.yaml")
    assert robust.train.augment == params.train.augment.model_copy(update={"lines": 1.0}) != params.train.augment
    preset = tmp_path / "preset.yaml"
    for text, message in [("visualize: {dpi: 60}", "section 'visualize' is not one of model, train, evaluate"),
                          ("train: {epochs: 0}", "train.epochs = 0 is invalid; expected an integer in [1, 1000]"),
                          ("train: {nesterov: true}", "train.nesterov is not a known key; allowed: augment,"),
                          ("train: 3", "train = 3 is invalid; expected a mapping"),
                          ("train: {epochs: [", "1:18: not valid YAML (")]:
        preset.write_text(text)
        with pytest.raises(ParamsError) as err:
            merge_preset(params, preset)
        assert str(err.value).startswith(f"{preset}{':' if text.endswith('[') else ': '}{message}")
    with pytest.raises(ParamsError, match="nowhere.yaml: file not found"):
        merge_preset(params, tmp_path / "nowhere.yaml")

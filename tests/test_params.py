"""params.yaml validation: the committed file is valid; each bad value gets one line naming it."""
import shutil

import pytest
import yaml

from conftest import ROOT, update_params
from mnist_pipeline.params import ParamsError, load_params

ALL_KEYS = ("dataset.name", "dataset.mirrors", "dataset.files", "dataset.class_names", "preprocess", "model",
            "train", "evaluate", "visualize")


def test_committed_params_are_valid():
    params = load_params(*ALL_KEYS, path=ROOT / "params.yaml")
    assert params["preprocess"]["val_fraction"] == 0.2
    assert len(params["dataset.class_names"]) == 10


@pytest.mark.parametrize("change, message", [
    ({"train": {"epochs": 0}}, "train.epochs = 0 is invalid; expected an integer in [1, 1000]"),
    ({"train": {"epochs": 2.5}}, "train.epochs = 2.5 is invalid; expected an integer in [1, 1000]"),
    ({"preprocess": {"val_fraction": 1.0}}, "preprocess.val_fraction = 1.0 is invalid; expected a number in (0, 1)"),
    ({"preprocess": {"val_fraction": 0}}, "preprocess.val_fraction = 0 is invalid; expected a number in (0, 1)"),
    ({"train": {"learning_rate": 0}}, "train.learning_rate = 0 is invalid; expected a number in (0, 1]"),
    ({"train": {"learning_rate": "fast"}}, "train.learning_rate = 'fast' is invalid; expected a number in (0, 1]"),
    ({"train": {"optimizer": "sgd"}}, "train.optimizer = 'sgd' is invalid; expected one of adam, adamw"),
    ({"model": {"activation": "tanhh"}},
     "model.activation = 'tanhh' is invalid; expected one of relu, gelu, silu, elu"),
    ({"model": {"conv_blocks": [{"filters": 8, "convs": 1, "kind": "sep"}]}},
     "model.conv_blocks[0].kind is not a known key; allowed: convs, filters"),
    ({"train": {"warmup_epochs": 99}}, "train.warmup_epochs = 99 is invalid; expected an integer in [0, 8]"),
    ({"train": {"momentum": 0.9}},
     "train.momentum is not a known key; allowed: augment, batch_size, ensemble, ensemble_split,"),
    ({"train": {"ensemble_split": "bagging"}},
     "train.ensemble_split = 'bagging' is invalid; expected one of same, folds, all"),
    ({"train": {"precision": "float16"}}, "train.precision = 'float16' is invalid; expected one of float32,"),
    ({"dataset": {"class_names": ["a", "b"]}},
     "dataset.class_names = ['a', 'b'] is invalid; expected a list of 10 distinct class names"),
    ({"dataset": {"files": {"train_images": {"name": "x.gz", "sha256": "abc"}}}},
     "dataset.files.train_images.sha256 = 'abc' is invalid; expected 64 lowercase hex digits"),
    ({"evaluate": {"test_time_shift_px": 9}},
     "evaluate.test_time_shift_px = 9 is invalid; expected an integer in [0, 4]"),
    ({"visualize": {"dpi": 5}}, "visualize.dpi = 5 is invalid; expected an integer in [50, 600]"),
])
def test_bad_value_is_named(tmp_path, change, message):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    update_params(path, change)
    with pytest.raises(ParamsError) as err:
        load_params(*ALL_KEYS, path=path)
    assert str(err.value).startswith(f"params.yaml: {message}")
    assert "\n" not in str(err.value)


def test_missing_section_and_bad_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"train": {}}))
    with pytest.raises(ParamsError, match=r"params.yaml: model is missing"):
        load_params("model", path=path)
    path.write_text("train: [unclosed")
    with pytest.raises(ParamsError, match=r"params.yaml: not valid YAML"):
        load_params("train", path=path)
    with pytest.raises(ParamsError, match=r"nowhere.yaml: file not found"):
        load_params("train", path=tmp_path / "nowhere.yaml")

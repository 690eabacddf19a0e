"""A training run interrupted after an epoch resumes there and ends exactly like an uninterrupted run."""
import keras
import numpy as np
import pytest

from mnist_pipeline.training import train_model
from synthetic import make_images

MODEL = {"conv_blocks": [{"filters": 4, "convs": 1}], "batchnorm": True, "activation": "relu",
         "dense_units": 16, "dropout": 0.2}
TRAIN = {"seed": 3, "epochs": 3, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.003,
         "warmup_epochs": 1, "schedule": "cosine", "label_smoothing": 0.1, "precision": "float32",
         "strategy": "auto", "augment": {"rotation_deg": 5, "zoom": 0.05, "shift_px": 1}}


class StopAfterEpoch(keras.callbacks.Callback):
    """Simulates Ctrl-C at the end of one epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def data():
    labels = np.arange(160, dtype=np.uint8) % 10
    x = make_images(labels, seed=1)[..., None].astype(np.float32) / 255
    return (x[:128], labels[:128]), (x[128:], labels[128:])


def test_resumed_run_matches_uninterrupted(tmp_path, data):
    train, val = data
    straight, straight_log = train_model(MODEL, TRAIN, 10, train, val, verbose=0, checkpoint_dir=tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        train_model(MODEL, TRAIN, 10, train, val, verbose=0, checkpoint_dir=tmp_path / "b",
                    callbacks=[StopAfterEpoch(2)])
    assert (tmp_path / "b" / "state.json").is_file()
    resumed, resumed_log = train_model(MODEL, TRAIN, 10, train, val, verbose=0, checkpoint_dir=tmp_path / "b")
    assert list(resumed_log["epoch"]) == [1, 2, 3]
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(straight_log["val_loss"], resumed_log["val_loss"])


def test_checkpoint_with_other_params_is_ignored(tmp_path, data):
    train, val = data
    with pytest.raises(KeyboardInterrupt):
        train_model(MODEL, TRAIN, 10, train, val, verbose=0, checkpoint_dir=tmp_path, callbacks=[StopAfterEpoch(2)])
    _, log = train_model(MODEL, {**TRAIN, "learning_rate": 0.002}, 10, train, val, verbose=0,
                         checkpoint_dir=tmp_path)
    assert len(log) == 3 and log["learning_rate"].iloc[0] != 0  # trained from epoch 1, not resumed

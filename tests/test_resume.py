"""A training run interrupted after an epoch resumes there and ends exactly like an uninterrupted run,
with each epoch logged once."""
import keras
import numpy as np
import pytest

from mnist_pipeline.schema import Model, Train
from mnist_pipeline.training import train_model
from synthetic import make_images

MODEL = Model.model_validate({"conv_blocks": [{"filters": 4, "convs": 1}], "batchnorm": True, "activation": "relu",
                              "dense_units": 16, "dropout": 0.2})
TRAIN = Train.model_validate({"seed": 3, "epochs": 3, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.003,
                              "warmup_epochs": 1, "schedule": "cosine", "label_smoothing": 0.1, "precision": "float32",
                              "strategy": "auto", "augment": {"rotation_deg": 5, "zoom": 0.05, "shift_px": 1},
                              "ensemble": 1, "ensemble_split": "same"})


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


def test_resumed_run_logs_each_epoch_once(tmp_path, data, monkeypatch):
    from mnist_pipeline.history import read_history
    from mnist_pipeline.tracking import TrainingLog

    monkeypatch.chdir(tmp_path)  # the DVCLive logs go to metrics/ here
    monkeypatch.setenv("DVC_ROOT", str(tmp_path.parent))  # as in an experiment's copy: logged in place, live
    train, val = data
    with pytest.raises(KeyboardInterrupt):
        train_model(MODEL, TRAIN, 10, train, val, verbose=0, checkpoint_dir=tmp_path / "run",
                    callbacks=[StopAfterEpoch(3)], tracker=TrainingLog().tracker(1, True))
    assert list(read_history()["epoch"]) == [1, 2]  # the epoch it was stopped in is neither logged nor saved
    # The rerun opens a new, empty log and resumes after epoch 2.
    _, log = train_model(MODEL, TRAIN, 10, train, val, verbose=0, checkpoint_dir=tmp_path / "run",
                         tracker=TrainingLog().tracker(1, True))
    history = read_history()
    assert list(history["epoch"]) == [1, 2, 3]
    for name in ("loss", "val_accuracy", "learning_rate", "seconds"):
        np.testing.assert_allclose(history[name], log[name], rtol=1e-5, err_msg=name)


def test_checkpoint_with_other_params_is_ignored(tmp_path, data):
    train, val = data
    with pytest.raises(KeyboardInterrupt):
        train_model(MODEL, TRAIN, 10, train, val, verbose=0, checkpoint_dir=tmp_path, callbacks=[StopAfterEpoch(2)])
    _, log = train_model(MODEL, TRAIN.model_copy(update={"learning_rate": 0.002}), 10, train, val, verbose=0,
                         checkpoint_dir=tmp_path)
    assert len(log) == 3 and log["learning_rate"].iloc[0] != 0  # trained from epoch 1, not resumed


def test_ensemble_averages_members_and_keeps_finished_ones(tmp_path, data, monkeypatch):
    from mnist_pipeline.ensemble import train_ensemble
    from mnist_pipeline.model import ensemble_members, load_model

    train, val = data
    params = TRAIN.model_copy(update={"ensemble": 2, "epochs": 2})
    model, logs = train_ensemble(MODEL, params, 10, train, val, verbose=0, checkpoint_dir=tmp_path)
    members = ensemble_members(model)
    assert [m.name for m in members] == ["member1", "member2"] and len(logs) == 2
    first, _ = train_model(MODEL, params, 10, train, val, verbose=0)  # member 1 is the run with the seed itself
    np.testing.assert_array_equal(first.get_weights()[0], members[0].get_weights()[0])
    outputs = [member.predict(val[0], verbose=0) for member in members]
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3  # other seed, other network
    np.testing.assert_allclose(model.predict(val[0], verbose=0), np.mean(outputs, axis=0), rtol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["member1", "member2"]

    # With folds, member 2 trains on other images (part of val among them): same seed, other weights.
    folds, fold_logs = train_ensemble(MODEL, params.model_copy(update={"ensemble_split": "folds"}), 10, train, val,
                                      verbose=0)
    assert list(fold_logs[0]["val_loss"]) == list(logs[0]["val_loss"])  # member 1: the given split
    assert not np.allclose(ensemble_members(folds)[1].get_weights()[0], members[1].get_weights()[0])

    # A rerun over the same checkpoints (as after a kill during a later member) trains nothing again.
    monkeypatch.setattr(keras.Model, "train_step", lambda *args: pytest.fail("a finished member was retrained"))
    again, again_logs = train_ensemble(MODEL, params, 10, train, val, verbose=0, checkpoint_dir=tmp_path)
    np.testing.assert_array_equal(again.predict(val[0], verbose=0), model.predict(val[0], verbose=0))
    assert [list(log["val_loss"]) for log in again_logs] == [list(log["val_loss"]) for log in logs]

    model.save(tmp_path / "ensemble.keras")
    loaded = load_model(tmp_path / "ensemble.keras")
    assert len(ensemble_members(loaded)) == 2
    np.testing.assert_allclose(loaded.predict(val[0], verbose=0), model.predict(val[0], verbose=0), rtol=1e-6)

"""The model, loss, schedule, augmentation and ensemble splits, checked directly on small inputs."""
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_pipeline import ensemble, inputs, training
from mnist_pipeline.model import ModelFileError, build_model, load_model, predict_probabilities
from mnist_pipeline.shifts import shifted_views
from mnist_pipeline.schema import Augment, Model, Train

MODEL = Model.model_validate({"conv_blocks": [{"filters": 8, "convs": 2}, {"filters": 16, "convs": 1}],
                              "batchnorm": True, "activation": "relu", "dense_units": 32, "dropout": 0.2})
NO_AUGMENT = Augment(rotation_deg=0, zoom=0, shift_px=0)
TRAIN = Train(seed=1, epochs=10, batch_size=32, optimizer="adam", learning_rate=0.01, warmup_epochs=2,
              schedule="cosine", label_smoothing=0.1, precision="float32", strategy="auto", augment=NO_AUGMENT,
              ensemble=1, ensemble_split="same")


def test_model_layers_follow_params():
    model = build_model(MODEL, 10)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["image", "block1_conv1", "block1_bn1", "block1_act1"]
    assert "block2_pool" in names and names[-1] == "class_probabilities"
    assert model.output_shape == (None, 10)
    assert model.get_layer("flatten").output.shape[1:] == (7 * 7 * 16,)
    probabilities = model(np.zeros((2, 28, 28, 1), np.float32)).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_shifted_views_shift_the_image_each_way():
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 10, 20, 0] = 1.0  # row 10, column 20
    assert len(shifted_views(image, 0)) == 1 and shifted_views(image, 0)[0] is image
    views = shifted_views(image, 2)
    spots = [tuple(np.argwhere(view[0, ..., 0])[0]) for view in views]
    assert spots == [(10, 20), (10, 22), (10, 18), (12, 20), (8, 20)]  # as is, right, left, down, up
    assert all(view.sum() == 1 for view in views)
    edge = np.ones((1, 4, 4), np.float32)  # works without the channel axis too; vacated pixels are 0
    assert shifted_views(edge, 1)[1][0, :, 0].sum() == 0 and shifted_views(edge, 1)[1].sum() == 12


def test_predictions_average_over_shifted_views():
    keras.utils.set_random_seed(0)
    model = build_model(MODEL, 10)
    images = np.random.default_rng(0).random((6, 28, 28, 1), dtype=np.float32)
    single = predict_probabilities(model, images, batch_size=4)
    np.testing.assert_allclose(single, model.predict(images, verbose=0), rtol=1e-6)
    averaged = predict_probabilities(model, images, batch_size=4, shift_px=1)
    expected = np.mean([model.predict(view, verbose=0) for view in shifted_views(images, 1)], axis=0)
    np.testing.assert_allclose(averaged, expected, rtol=1e-5)
    assert np.abs(averaged - single).max() > 1e-4  # the shifted copies do change the answer
    np.testing.assert_allclose(averaged.sum(axis=1), 1, rtol=1e-5)


def test_graph_calls_end_on_epoch_boundaries():
    one_device = tf.distribute.get_strategy()
    assert [training.steps_per_execution(steps, one_device) for steps in (375, 469, 4, 1)] == [25, 7, 4, 1]
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)  # tests/test_distribute.py trains with real ones
    assert training.steps_per_execution(375, two_replicas) == 1


def test_loss_without_smoothing_is_sparse_crossentropy():
    y = np.array([0, 2, 1])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], np.float32)
    ours = float(training.SmoothedSparseCrossentropy(0.0)(y, p))
    assert ours == pytest.approx(float(keras.losses.SparseCategoricalCrossentropy()(y, p)), rel=1e-5)
    smoothed = float(training.SmoothedSparseCrossentropy(0.3)(y, p))
    expected = np.mean(0.7 * -np.log(p[np.arange(3), y]) + 0.3 * -np.log(p).mean(axis=1))
    assert smoothed == pytest.approx(expected, rel=1e-5)


def test_schedule_warms_up_then_decays_to_zero():
    schedule = training.learning_rate_schedule(TRAIN, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 10, 20, 60, 100)]
    assert rates[0] == pytest.approx(0) and rates[1] == pytest.approx(0.005)
    assert rates[2] == pytest.approx(0.01) and rates[3] == pytest.approx(0.005) and rates[4] == pytest.approx(0)
    constant = training.learning_rate_schedule(TRAIN.model_copy(update={"schedule": "constant"}), steps_per_epoch=10)
    assert float(constant(60)) == pytest.approx(0.01) and float(constant(100)) == pytest.approx(0.01)


def test_training_dataset_is_repeatable_and_ends_after_the_last_epoch():
    x = np.random.default_rng(0).random((20, 28, 28, 1), dtype=np.float32)
    y = np.arange(20) % 10
    augment = Augment(rotation_deg=10, zoom=0.1, shift_px=2)
    first = [b[0].numpy() for b in inputs.training_dataset(x, y, 8, augment, seed=5, epochs=2)]
    second = [b[0].numpy() for b in inputs.training_dataset(x, y, 8, augment, seed=5, epochs=2)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert [len(b) for b in first] == [8, 8, 4, 8, 8, 4]  # 2 epochs of 20 images, batches of 8
    # No tf.data autotuner: its thread, waking once a minute, would hold up the end of every fit.
    assert inputs.training_dataset(x, y, 8, augment, seed=5, epochs=2).options().autotune.enabled is False
    validation = inputs.validation_dataset(x, y, 8)
    assert validation.options().autotune.enabled is False
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in validation]), x)  # all of them, in order
    resumed = [b[0].numpy() for b in inputs.training_dataset(x, y, 8, augment, seed=5, epochs=2, start_epoch=1)]
    assert len(resumed) == 3
    for a, b in zip(first[3:], resumed):
        np.testing.assert_array_equal(a, b)


def test_folds_hold_out_every_image_once_and_train_on_the_rest():
    x_train, x_val = np.arange(40, dtype=np.float32), np.arange(40, 50, dtype=np.float32)  # image ids as "images"
    train, val = (x_train, x_train % 10), (x_val, x_val % 10)
    assert ensemble.fold_split(train, val, 0, seed=1) == (train, val)
    held_out = [x_val]
    for fold in range(1, 5):
        (x_fold_train, y_fold_train), (x_fold_val, y_fold_val) = ensemble.fold_split(train, val, fold, seed=1)
        assert len(x_fold_val) == 10 and len(x_fold_train) == 40
        assert sorted(np.concatenate([x_fold_train, x_fold_val])) == list(range(50))  # nothing lost or doubled
        np.testing.assert_array_equal(y_fold_val, x_fold_val % 10)  # labels stay with their images
        np.testing.assert_array_equal(y_fold_train, x_fold_train % 10)
        held_out.append(x_fold_val)
    assert sorted(np.concatenate(held_out)) == list(range(50))  # five folds: each image validated once
    _, (again, _) = ensemble.fold_split(train, val, 3, seed=1)
    _, (other_seed, _) = ensemble.fold_split(train, val, 3, seed=2)
    np.testing.assert_array_equal(again, held_out[3])
    assert sorted(other_seed) != sorted(held_out[3])


@pytest.mark.parametrize("ensemble_split", ["same", "folds", "all"])
def test_members_train_on_the_images_their_split_gives_them(ensemble_split):
    x_train, x_val = np.arange(40, dtype=np.float32), np.arange(40, 50, dtype=np.float32)  # image ids as "images"
    train, val = (x_train, x_train % 10), (x_val, x_val % 10)
    first_train, first_val, _ = ensemble.member_split(train, val, 0, ensemble_split, seed=1)
    assert (first_train, first_val) == (train, val)  # member 1 always trains on the train split
    assert ensemble.validation_held_out(0, ensemble_split)
    for member in (1, 2):
        (x_member, y_member), (x_member_val, _), trains_on = ensemble.member_split(train, val, member,
                                                                                   ensemble_split, seed=1)
        np.testing.assert_array_equal(y_member, x_member % 10)  # labels stay with their images
        seen = set(x_member) & set(x_member_val)
        assert len(x_member) == ensemble.member_train_images(40, 10, member, ensemble_split)
        assert ensemble.validation_held_out(member, ensemble_split) == (not seen)
        if ensemble_split == "all":
            assert sorted(x_member) == list(range(50)) and trains_on == "train + val"
            assert seen == set(x_val)  # validated on images it trained on: figures to be ignored
        elif ensemble_split == "folds":
            assert trains_on == f"fold {member + 1}" and set(x_member) & set(x_val)  # some validation images
        else:
            np.testing.assert_array_equal(x_member, x_train)
            assert trains_on == "the train split"


def test_load_model_rejects_foreign_and_missing_files(tmp_path):
    with pytest.raises(ModelFileError, match=r"nothing.keras: model file not found"):
        load_model(tmp_path / "nothing.keras")
    (tmp_path / "text.keras").write_text("not a model")
    with pytest.raises(ModelFileError, match=r"text.keras: not a Keras model"):
        load_model(tmp_path / "text.keras")
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ModelFileError, match=r"other.keras: model maps \(None, 4\) to \(None, 2\)"):
        load_model(tmp_path / "other.keras")

"""Builds the CNN described by the `model` section of params.yaml, loads a saved one, and predicts.

conv blocks (3x3 conv [+ BatchNorm] + activation, repeated; 2x2 max-pool) → flatten → dropout →
dense → dropout → softmax. Every layer is named so summaries, reports and filters read well.
Predictions may average over shifted copies of each image (test-time augmentation).
"""
from mnist_pipeline import shifts
from mnist_pipeline.stage import PipelineError
from mnist_pipeline.tf_runtime import keras

layers = keras.layers

# Keras's default BatchNorm momentum (0.99) leaves the moving statistics near their initial values
# after a few hundred steps; 0.9 makes inference-mode accuracy track training from the first epoch.
BN_MOMENTUM = 0.9


def build_model(params, num_classes, input_shape=(28, 28, 1)):
    """Returns an uncompiled keras.Model for `params` (the validated `model` section, a schema.Model), named
    `mnist_cnn`."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for b, block in enumerate(params.conv_blocks, start=1):
        for c in range(1, block.convs + 1):
            x = layers.Conv2D(block.filters, 3, padding="same", use_bias=not params.batchnorm,
                              name=f"block{b}_conv{c}")(x)
            if params.batchnorm:
                x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{b}_bn{c}")(x)
            x = layers.Activation(params.activation, name=f"block{b}_act{c}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    if params.dense_units:
        x = layers.Dropout(params.dropout, name="dropout_features")(x)
        x = layers.Dense(params.dense_units, activation=params.activation, name="dense")(x)
    x = layers.Dropout(params.dropout, name="dropout")(x)
    # float32 output keeps the softmax numerically stable under mixed precision.
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="class_probabilities")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


def average_models(models):
    """One model whose output is the mean of the `models`' outputs (an ensemble); one model is returned as is.

    The members become layers `member1`, `member2`, ... of a model named `mnist_ensemble`.
    """
    if len(models) == 1:
        return models[0]
    # Uncompiled views of the trained layers: the training loss and optimizer stay out of the saved file.
    members = [keras.Model(model.inputs[0], model.outputs[0], name=f"member{i}")
               for i, model in enumerate(models, start=1)]
    inputs = keras.Input(shape=models[0].input_shape[1:], name="image")
    outputs = layers.Average(dtype="float32", name="class_probabilities")([member(inputs) for member in members])
    return keras.Model(inputs, outputs, name="mnist_ensemble")


def ensemble_members(model):
    """The member networks of a model made by `average_models`, or [model] for a single network."""
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return members or [model]


class ModelFileError(PipelineError, ValueError):
    """A model file is missing, corrupt, or not a model this pipeline can use."""


def load_model(path, num_classes=10):
    """Loads a saved .keras model in safe mode (no code runs from the file) and checks its shapes."""
    import zipfile
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found; run `dvc repro` to train one")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model (.keras files are zip archives)")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many kinds for a damaged or foreign archive
        raise ModelFileError(f"{path}: cannot load the model ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    if tuple(model.input_shape[1:]) != (28, 28, 1) or model.output_shape[-1] != num_classes:
        raise ModelFileError(f"{path}: model maps {model.input_shape} to {model.output_shape}; "
                             f"expected (None, 28, 28, 1) to (None, {num_classes})")
    return model


def predict_probabilities(model, images, batch_size, shift_px=0):
    """Softmax outputs (N, classes) for (N, 28, 28, 1) images, averaged over shifts.shifted_views.

    Each view goes through the model `batch_size` images at a time with predict_on_batch: the same
    compiled step and batches as model.predict, without the input pipeline model.predict builds on
    every call (about 200 ms, which would dominate one picture in predict.py or the demo server).
    """
    return shifts.predict_probabilities(model.predict_on_batch, images, batch_size, shift_px)

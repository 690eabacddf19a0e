"""The Keras model as a LiteRT flatbuffer (.tflite), and how closely the export agrees with it.

`inference_model(model)` gives the model with the outputs predict.py and the demo server read: its
probabilities, and for the not-a-digit detector each member's penultimate features, logits and activations (the
signature mnist_pipeline.predict.runtime.LiteRTClassifier expects). `exported_litert(model, path)` writes
its float32 export (Keras's LiteRT export: TensorFlow's converter, no quantisation) atomically;
`agreement(reference, exported, labels)` compares the two models' probabilities and features on the same
images; `export_record(...)` is the content of metrics/export.json, which names the source and exported
files by SHA-256 (mnist_pipeline.predict.runtime.source_model reads it back).
"""
import contextlib
import io

import numpy as np

from mnist_pipeline.calibration import file_sha256
from mnist_pipeline.files import atomic_path


def inference_model(model):
    """A keras.Model mapping `image` to {probabilities, features, logits, activations} (runtime.OUTPUTS) of `model`:
    its own output, the input of each member's last (Dense) layer side by side, that layer's logits per member, and
    the activations the not-a-digit head reads: the mean and maximum of each channel that each member's max-pooling
    layers take in (every convolution block's output), then `input_statistics` of the image."""
    from mnist_pipeline.model import ensemble_members
    from mnist_pipeline.tf_runtime import keras
    layers = keras.layers

    image = keras.Input(shape=model.input_shape[1:], name="image")
    probabilities, features, logits, activations = [], [], [], []
    for member in ensemble_members(model):
        last = member.layers[-1]
        blocks = [layer.input for layer in member.layers if isinstance(layer, layers.MaxPooling2D)]
        member_probabilities, member_features, *member_blocks = keras.Model(
            member.inputs, [member.outputs[0], last.input, *blocks])(image)
        linear = layers.Dense(last.units, dtype="float32", name=f"{last.name}_logits_{len(logits)}")
        logits.append(layers.Reshape((1, last.units))(linear(member_features)))
        linear.set_weights(last.get_weights())
        probabilities.append(member_probabilities)
        features.append(member_features)
        activations += [pool(dtype="float32")(block) for block in member_blocks
                        for pool in (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D)]
    if len(probabilities) > 1:  # an ensemble averages its members, as average_models does
        probabilities = [layers.Average(dtype="float32")(probabilities)]
        features, logits = [layers.Concatenate()(features)], [layers.Concatenate(axis=1)(logits)]
    activations = layers.Concatenate(dtype="float32")([*activations, input_statistics(image)])
    return keras.Model(image, {"probabilities": probabilities[0], "features": features[0], "logits": logits[0],
                               "activations": activations})


def input_statistics(image):
    """(N, 6) statistics of the (N, 28, 28, 1) image tensor's pixels: mean, standard deviation, the share over 0.1
    (ink), over 0.5 and between 0.1 and 0.6 (grey), and the mean of the ink pixels."""
    from mnist_pipeline.tf_runtime import keras
    ops = keras.ops

    pixels = ops.reshape(image, (-1, 28 * 28))
    ink = ops.cast(pixels > 0.1, "float32")
    grey = ink * ops.cast(pixels < 0.6, "float32")
    ink_mean = ops.sum(pixels * ink, axis=1) / ops.maximum(ops.sum(ink, axis=1), 1.0)
    return ops.stack([ops.mean(pixels, axis=1), ops.std(pixels, axis=1), ops.mean(ink, axis=1),
                      ops.mean(ops.cast(pixels > 0.5, "float32"), axis=1), ops.mean(grey, axis=1), ink_mean], axis=1)


@contextlib.contextmanager
def exported_litert(model, path):
    """Yields a temporary .tflite export of `model` beside `path`, renamed onto `path` if the block succeeds
    (a check that raises inside it leaves `path` as it was)."""
    with atomic_path(path) as tmp, contextlib.redirect_stdout(io.StringIO()):  # Keras prints "Saved artifact at"
        inference_model(model).export(str(tmp), format="litert", verbose=False)
        yield tmp


def agreement(reference, exported, labels):
    """{test_images, argmax_disagreements, max_abs_delta_p, max_relative_delta_features, test_accuracy (of the
    export)} for (probabilities (N, 10), features (N, F)) of the same images from the reference model and its export."""
    (probabilities, features), (exported_probabilities, exported_features) = reference, exported
    return {"test_images": len(labels),
            "argmax_disagreements": int((probabilities.argmax(1) != exported_probabilities.argmax(1)).sum()),
            "max_abs_delta_p": float(np.abs(probabilities - exported_probabilities).max()),
            "max_relative_delta_features": float(np.abs(features - exported_features).max() / np.abs(features).max()),
            "test_accuracy": round(float((exported_probabilities.argmax(1) == labels).mean()), 6)}


def export_record(source, exported, checks):
    """metrics/export.json: the source and exported files (as given: the stage's are relative to the repository)
    with their SHA-256, the export's size, and the agreement `checks`."""
    return {"source": str(source), "source_sha256": file_sha256(source),
            "exported": str(exported), "exported_sha256": file_sha256(exported),
            "exported_bytes": exported.stat().st_size, "runtime": "ai-edge-litert", **checks}

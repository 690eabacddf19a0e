"""train.precision: auto picks bfloat16 only where the hardware has it natively; a model trained in mixed precision
is saved computing in float32, so it answers alike everywhere and exports to LiteRT."""
import numpy as np
import pytest

from mnist_pipeline import precision


@pytest.mark.parametrize("flags, expected", [
    ("flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),
    ("flags\t\t: fpu sse2 avx2 amx_bf16 amx_tile", True),
    ("Features\t: fp asimd bf16 i8mm", True),
    ("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni", False),
    ("model name\t: bf16 in a name is not a flag", False),
])
def test_cpu_bfloat16_is_read_from_the_flags_line(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\n{flags}\n\n")
    assert precision.cpu_has_bfloat16(cpuinfo) is expected


def test_unreadable_cpuinfo_means_no_bfloat16(tmp_path):
    assert precision.cpu_has_bfloat16(tmp_path / "missing") is False


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_explicit_policies_are_kept(policy):
    assert precision.resolve_precision(policy) == policy


@pytest.mark.parametrize("native, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_on_a_cpu_follows_native_support(monkeypatch, native, expected):
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind: [])
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: native)
    assert precision.resolve_precision("auto") == expected


@pytest.mark.parametrize("capabilities, expected", [([(8, 0)], "mixed_bfloat16"), ([(9, 0), (7, 5)], "float32"),
                                                    ([(7, 0)], "float32")])
def test_auto_on_gpus_needs_ampere_or_newer_everywhere(monkeypatch, capabilities, expected):
    gpus = [f"GPU:{i}" for i in range(len(capabilities))]
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind: gpus)
    monkeypatch.setattr(precision.tf.config.experimental, "get_device_details",
                        lambda gpu: {"compute_capability": capabilities[gpus.index(gpu)]})
    assert precision.resolve_precision("auto") == expected


@pytest.fixture
def mixed_network():
    """An untrained (seeded) two-member ensemble of small pipeline CNNs built under the mixed_bfloat16 policy."""
    from mnist_pipeline.model import average_models, build_model
    from mnist_pipeline.schema import Model
    from mnist_pipeline.tf_runtime import keras

    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        params = Model(conv_blocks=[{"filters": 4, "convs": 1}], batchnorm=True, activation="relu", dense_units=8,
                       dropout=0.2)
        members = [build_model(params, 10), build_model(params, 10)]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return average_models(members)


def layer_policies(model):
    """The dtype policy names of every layer of `model`, nested members included."""
    return {name for layer in model.layers
            for name in ([layer.dtype_policy.name] + (list(layer_policies(layer)) if hasattr(layer, "layers") else []))}


def test_a_mixed_precision_model_becomes_float32_with_its_weights(mixed_network):
    assert "mixed_bfloat16" in layer_policies(mixed_network)
    copy = precision.float32_model(mixed_network)
    assert layer_policies(copy) == {"float32"}
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), mixed_network.get_weights()))
    images = np.random.default_rng(0).random((20, 28, 28, 1)).astype(np.float32)
    mixed, exact = mixed_network.predict_on_batch(images), copy.predict_on_batch(images)
    assert exact.dtype == np.float32 and np.abs(mixed - exact).max() < 0.05  # bfloat16 keeps ~3 digits
    assert not np.array_equal(mixed, exact)


def test_the_float32_copy_exports_to_litert_and_agrees(mixed_network, tmp_path):
    from mnist_pipeline.export import exported_litert
    from mnist_pipeline.predict.runtime import ClassifierFileError, LiteRTClassifier

    images = np.random.default_rng(0).random((20, 28, 28, 1)).astype(np.float32)
    copy = precision.float32_model(mixed_network)
    with exported_litert(copy, tmp_path / "model.tflite") as exported:
        assert np.abs(LiteRTClassifier(exported)(images) - copy.predict_on_batch(images)).max() < 1e-5
    with exported_litert(mixed_network, tmp_path / "mixed.tflite"):  # bfloat16 convolutions: TensorFlow ops
        pass
    with pytest.raises(ClassifierFileError, match=r"^\S*mixed.tflite: cannot (load|run) the LiteRT model \(.*\)$"):
        LiteRTClassifier(tmp_path / "mixed.tflite")

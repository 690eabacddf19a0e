"""Chooses the Keras dtype policy for `train.precision: auto`.

bfloat16 halves the memory traffic of training, but only hardware with native bfloat16 arithmetic
gains from it: CPUs with AVX-512 BF16 or AMX (x86) or the BF16 extension (Arm), and NVIDIA GPUs of
compute capability 8.0 (Ampere) or newer. Elsewhere TensorFlow emulates it and trains slower than in
float32, so `auto` picks float32 there. Reads /proc/cpuinfo (Linux) and TensorFlow's GPU list.
"""
from pathlib import Path

from mnist_pipeline.tf_runtime import tf

BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}  # x86 flags / Arm feature, as Linux lists them
CPUINFO = Path("/proc/cpuinfo")


def cpu_has_bfloat16(cpuinfo=CPUINFO):
    """True when the CPU lists a native bfloat16 instruction set (Linux; False where unknown)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features") and BF16_CPU_FLAGS & set(value.split()):
            return True
    return False


def gpu_has_bfloat16():
    """True when every visible GPU has compute capability 8.0 or newer (and there is at least one)."""
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) for gpu in gpus]
    return bool(capabilities) and all(tuple(cap) >= (8, 0) for cap in capabilities)


def resolve_precision(precision):
    """The Keras dtype policy name for `train.precision`: itself, or for `auto` the fastest exact-enough one."""
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU"):
        return "mixed_bfloat16" if gpu_has_bfloat16() else "float32"
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


def _float32_config(config):
    """`config` (a Keras model's, nested) with every layer's dtype policy set to float32."""
    if isinstance(config, list):
        return [_float32_config(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy":
        return {**config, "config": {**config["config"], "name": "float32"}}
    return {key: _float32_config(value) for key, value in config.items()}


def float32_model(model):
    """A copy of `model` computing in float32 throughout, with the same weights: a model trained under a mixed
    policy (its variables are float32 already) then answers alike on every machine and exports to LiteRT's
    builtin float32 operations."""
    copy = model.__class__.from_config(_float32_config(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy

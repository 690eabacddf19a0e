"""train.precision: auto picks bfloat16 only where the hardware has it natively."""
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

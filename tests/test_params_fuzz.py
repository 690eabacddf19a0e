"""Property tests of the params loader and validator: random and mutated files, random values and structures
and random presets either give valid typed params or a one-line ParamsError naming the file, never another
exception."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from conftest import ROOT
from mnist_pipeline.params import ParamsError, load_params, merge_preset
from mnist_pipeline.schema import SECTIONS, Params

FUZZ = settings(max_examples=200, deadline=None)
COMMITTED = (ROOT / "params.yaml").read_bytes()
DATA = YAML(typ="safe").load(COMMITTED)
PRESET_BASE = load_params("model", "train", "evaluate", path=ROOT / "params.yaml")
KEYS = (*(f"dataset.{field}" for field in SECTIONS["dataset"].model_fields), *SECTIONS)

scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12) | st.sampled_from(["3e-3", "auto", "relu", "adam", "0", "yes", "~"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("params_fuzz")


def dump(data):
    """`data` as YAML 1.2 text: JSON is valid YAML 1.2 and much faster to write (NaN and inf are tested in
    test_params.py and by the byte mutations)."""
    return json.dumps(data).encode()


def check_load(path, keys=KEYS):
    """load_params gives valid Params or a one-line ParamsError naming `path`; anything else fails the test."""
    try:
        params = load_params(*keys, path=path)
    except ParamsError as err:
        message = str(err)
        assert message.startswith(str(path)) and "\n" not in message, message
        return None
    assert isinstance(params, Params)
    for section in {key.partition(".")[0] for key in keys if "." not in key}:
        model = getattr(params, section)
        assert type(model).model_validate(model.model_dump()) == model  # what passed is valid as typed
    return params


def mutate(data, path, value):
    """A deep copy of `data` with `value` at `path` (a tuple of keys and indices), or the key deleted when
    `value` is the DELETE marker."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        if rest or value is not DELETE:
            copy[head] = mutate(data.get(head), rest, value)
        else:
            copy.pop(head, None)
        return copy
    if isinstance(data, list) and isinstance(head, int) and head < len(data):
        copy = list(data)
        if rest or value is not DELETE:
            copy[head] = mutate(data[head], rest, value)
        else:
            del copy[head]
        return copy
    return None if value is DELETE else value


DELETE = object()


def leaf_paths(data, prefix=()):
    """Every path in `data` to a value (mappings, lists and leaves alike)."""
    yield prefix
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, child in children:
        yield from leaf_paths(child, (*prefix, key))


PATHS = [path for path in leaf_paths(DATA) if path]


def test_committed_file_loads():
    assert check_load(ROOT / "params.yaml") is not None


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(workdir, content):
    (workdir / "params.yaml").write_bytes(content)
    check_load(workdir / "params.yaml")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(COMMITTED) - 1), st.integers(0, 2), st.binary(min_size=1, max_size=3)),
                min_size=1, max_size=4))
def test_mutated_bytes(workdir, edits):
    content = bytearray(COMMITTED)
    for position, kind, data in edits:
        position = min(position, len(content))
        if kind == 0:
            content[position:position + len(data)] = data  # overwrite
        elif kind == 1:
            content[position:position] = data  # insert
        else:
            del content[position:position + len(data)]  # delete
    (workdir / "params.yaml").write_bytes(bytes(content))
    check_load(workdir / "params.yaml")


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), values | st.just(DELETE)), min_size=1, max_size=3),
       st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
def test_random_values_and_structures(workdir, changes, keys):
    data = DATA
    for path, value in changes:
        data = mutate(data, path, value)
    (workdir / "params.yaml").write_bytes(dump(data))
    check_load(workdir / "params.yaml", keys)


@FUZZ
@given(st.dictionaries(st.sampled_from(["model", "train", "evaluate", "visualize", "x"]),
                       values | st.fixed_dictionaries({}, optional={"epochs": values, "augment": values,
                                                                    "conv_blocks": values, "batch_size": values}),
                       max_size=3))
def test_random_presets(workdir, preset):
    (workdir / "preset.yaml").write_bytes(dump(preset))
    try:
        merged = merge_preset(PRESET_BASE, workdir / "preset.yaml")
    except ParamsError as err:
        assert str(err).startswith(str(workdir / "preset.yaml")) and "\n" not in str(err), str(err)
    else:
        assert merged.train == type(merged.train).model_validate(merged.train.model_dump())

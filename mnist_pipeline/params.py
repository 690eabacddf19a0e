"""Reads `params.yaml` as DVC does and validates the params a stage declares, before it does any work.

The schema is the strict pydantic models of `mnist_pipeline.schema`. `load_params("train",
"dataset.class_names")` returns a `Params`: `params.train.epochs`, `params.dataset.class_names`; sections
not asked for are None, and a section asked for by dotted keys has only those fields. Every problem raises `ParamsError`, one line
naming the file, the key, the value and what is allowed. The file is parsed with ruamel.yaml's safe
loader as DVC parses it (YAML 1.2: `3e-3` is a number, `yes` a string, duplicate keys an error).
"""
import copy
from functools import cache
from pathlib import Path
from typing import Annotated, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from ruamel.yaml import YAML, YAMLError

from mnist_pipeline.schema import SECTIONS, Params
from mnist_pipeline.stage import PipelineError

PARAMS_FILE = Path("params.yaml")


class ParamsError(PipelineError, ValueError):
    """params.yaml (or a preset) cannot be read, or a value in it is missing, unknown or out of range."""


# --- loading -------------------------------------------------------------------------------------

def load_params(*keys, path=PARAMS_FILE):
    """A `Params` holding the named sections ("train") and section fields ("dataset.files"), validated."""
    raw = read_mapping(path)
    whole, found = [key for key in keys if "." not in key], {}
    for key in keys:
        section, _, field = key.partition(".")
        if section not in SECTIONS or field and field not in SECTIONS[section].model_fields:
            raise ValueError(f"{key!r} is not a params key")
        if section not in raw:
            raise ParamsError(f"{path}: {section} is missing")
        if not field:
            found[section] = raw[section]
        elif section not in whole:
            if not isinstance(raw[section], dict) or field not in raw[section]:
                raise ParamsError(f"{path}: {key} is missing")
            found.setdefault(section, {})[field] = raw[section][field]
    return Params.model_construct(**{section: validate(section, value, path, section in whole)
                                     for section, value in found.items()})


def merge_preset(params, preset_path):
    """`params` with a preset (a partial params file: `train: {epochs: 30}`) merged on top, validated again."""
    preset = read_mapping(preset_path, allow_empty=True)
    loaded = [name for name in SECTIONS if getattr(params, name) is not None]
    merged = {}
    for section, values in preset.items():
        if section not in loaded:
            raise ParamsError(f"{preset_path}: section {section!r} is not one of {', '.join(loaded)}")
        if not isinstance(values, dict):
            raise ParamsError(f"{preset_path}: {section} = {values!r} is invalid; expected a mapping")
        merged[section] = getattr(params, section).model_dump()
        deep_merge(merged[section], copy.deepcopy(values))
        merged[section] = validate(section, merged[section], preset_path, whole=True)
    return params.model_copy(update=merged)


def deep_merge(target, updates):
    """Merges nested dict `updates` into `target` in place: mappings merge, other values replace."""
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = value


def read_mapping(path, allow_empty=False):
    """The top-level mapping of YAML file `path`, parsed as DVC parses params files."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        content = YAML(typ="safe").load(text)
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found (run from the repository root)") from None
    except OSError as err:
        raise ParamsError(f"{path}: cannot be read ({err.strerror})") from None
    except UnicodeDecodeError as err:
        line, column = err.object.count(b"\n", 0, err.start) + 1, err.start - err.object.rfind(b"\n", 0, err.start)
        raise ParamsError(f"{path}:{line}:{column}: not valid UTF-8 (byte {err.object[err.start]:#04x})") from None
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ParamsError(f"{path}{where}: not valid YAML ({problem})") from None
    if content is None and not allow_empty:
        raise ParamsError(f"{path}: the file is empty; expected a mapping of sections")
    if content is not None and not isinstance(content, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(content).__name__}")
    return content or {}


# --- validation and its messages -----------------------------------------------------------------

def validate(section, value, path, whole):
    """The section model for `value`: all of it (`whole`) or only the fields present in `value`."""
    model = SECTIONS[section]
    try:
        if whole:
            return model.model_validate(value)
        fields = {}
        for field, item in value.items():
            fields[field] = field_adapter(section, field).validate_python(item)
    except ValidationError as err:
        error = min(err.errors(), key=lambda e: (e["type"] != "extra_forbidden", e["type"] != "missing"))
        loc = (section, *(() if whole else (field,)), *error["loc"])
        raise ParamsError(f"{path}: {describe(error, loc, {section: value})}") from None
    return model.model_construct(**fields)


@cache
def field_adapter(section, field):
    """Validates one field of a section on its own, with the section's strict settings."""
    info = SECTIONS[section].model_fields[field]
    return TypeAdapter(Annotated[info.annotation, info],
                       config=None if is_model(info.annotation) else ConfigDict(strict=True))


def describe(error, loc, source):
    """One line for a pydantic error at `loc` (from the section name down) in the mapping `source`."""
    if error["type"] == "missing":
        return f"{key_name(loc)} is missing"
    if error["type"] == "extra_forbidden":
        allowed = sorted(schema_walk(loc[:-1])[-1][1].model_fields)
        return f"{key_name(loc)} is not a known key; allowed: {', '.join(allowed)}"
    loc, expected = next((loc[:depth], text) for depth, _, text in reversed(schema_walk(loc)) if text)
    if error["type"] == "invalid_field":
        loc, expected = (*loc, error["ctx"]["field"]), error["ctx"]["expected"]
    value = source
    for part in loc:
        value = value[part]
    return f"{key_name(loc)} = {value!r} is invalid; expected {expected}"


def schema_walk(loc):
    """(depth, type, description of what is allowed) down `loc` as far as the schema goes."""
    schema = SECTIONS[loc[0]]
    steps = [(1, schema, "a mapping")]
    for depth, part in enumerate(loc[1:], start=2):
        if is_model(schema) and part in schema.model_fields:
            schema, text = schema.model_fields[part].annotation, schema.model_fields[part].description
        elif get_origin(schema) is list and isinstance(part, int):
            schema, text = get_args(schema)[0], None
        else:
            break
        steps.append((depth, schema, text or ("a mapping" if is_model(schema) else None)))
    return steps


def is_model(schema):
    return isinstance(schema, type) and issubclass(schema, BaseModel)


def key_name(loc):
    """("model", "conv_blocks", 0, "filters") -> "model.conv_blocks[0].filters"."""
    parts = [f"[{part}]" if isinstance(part, int) else "." + (part if part.isprintable() else repr(part))
             for part in loc]
    return "".join(parts).lstrip(".")

"""The params schema: one strict pydantic model per section of `params.yaml`, each field with the
one-line description of what it allows that error messages quote. `mnist_pipeline.params` reads the
file and validates it against these models; add a section here (and to `Params`) for a new stage.
"""
import math
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


# --- value types: each carries the one-line description used in error messages ------------------

def integer(low, high=math.inf):
    bounds = {"ge": low} | ({} if high == math.inf else {"le": high})
    return Annotated[int, Field(**bounds, description=f"an integer in [{low}, {high}]")]


def number(low, high, low_open=False, high_open=False):
    bounds = {"gt" if low_open else "ge": low, "lt" if high_open else "le": high}
    text = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    return Annotated[float, Field(**bounds, allow_inf_nan=False, description=text)]


def choice(*options):
    return Annotated[Literal[options], Field(description=f"one of {', '.join(options)}")]


def distinct(values):
    if len(set(values)) < len(values):
        raise ValueError("values repeat")
    return values


NonEmptyStr = Annotated[str, Field(min_length=1, description="a non-empty string")]


# --- the schema ----------------------------------------------------------------------------------

class Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class FileEntry(Section):
    name: NonEmptyStr
    sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$", description="64 lowercase hex digits")]


class Files(Section):
    train_images: FileEntry
    train_labels: FileEntry
    test_images: FileEntry
    test_labels: FileEntry


class Dataset(Section):
    name: NonEmptyStr
    mirrors: Annotated[list[NonEmptyStr], Field(min_length=1, description="a non-empty list of URLs")]
    files: Files
    class_names: Annotated[list[str], Field(min_length=10, max_length=10), AfterValidator(distinct),
                           Field(description="a list of 10 distinct class names")]


class Preprocess(Section):
    val_fraction: number(0, 1, low_open=True, high_open=True)
    seed: integer(0)


class ConvBlock(Section):
    filters: integer(1, 1024)
    convs: integer(1, 4)


class Model(Section):
    conv_blocks: Annotated[list[ConvBlock], Field(min_length=1, max_length=3,
                                                  description="a list of 1 to 3 blocks (28 px halves at each)")]
    batchnorm: Annotated[bool, Field(description="true or false")]
    activation: choice("relu", "gelu", "silu", "elu")
    dense_units: integer(0, 4096)
    dropout: number(0, 1, high_open=True)


class Augment(Section):
    rotation_deg: number(0, 45)
    zoom: number(0, 0.5)
    shift_px: number(0, 8)
    # Picture changes (mnist_pipeline.augment.random_picture); 0 turns one off.
    stroke: number(0, 1) = 0      # blend toward a 1 px thicker or thinner stroke
    lines: number(0, 1) = 0       # a line of ink across the digit (solid or dashed), its ink up to this
    blur: number(0, 1) = 0        # blend toward a Gaussian blur
    erase_px: number(0, 28) = 0   # side of a square hidden
    contrast: number(0, 0.45) = 0  # paper lifted and ink faded by up to this
    noise: number(0, 0.5) = 0     # standard deviation of Gaussian pixel noise


class Train(Section):
    seed: integer(0)
    epochs: integer(1, 1000)
    batch_size: integer(1, 65536)
    optimizer: choice("adam", "adamw")
    learning_rate: number(0, 1, low_open=True)
    warmup_epochs: integer(0)
    schedule: choice("cosine", "constant")
    label_smoothing: number(0, 1, high_open=True)
    precision: choice("auto", "float32", "mixed_bfloat16", "mixed_float16")
    strategy: choice("auto", "one_device", "mirrored", "multi_worker")
    augment: Augment
    ensemble: integer(1, 20)
    ensemble_split: choice("same", "folds", "all")
    worker_timeout_s: integer(1, 86400) = 300  # multi-worker: how long to wait for a worker that is missing or silent

    @model_validator(mode="after")
    def check_across_fields(self):
        if self.warmup_epochs > self.epochs - 1:
            raise invalid_field("warmup_epochs", f"an integer in [0, {self.epochs - 1}]")
        if self.ensemble > 1 and self.strategy == "multi_worker":
            raise invalid_field("ensemble", "1 with train.strategy multi_worker (its workers start one run each)")
        return self


class Evaluate(Section):
    batch_size: integer(1, 100000)
    test_time_shift_px: integer(0, 4)


class Visualize(Section):
    sample_count: integer(1, 100)
    mistake_count: integer(1, 100)
    dpi: integer(50, 600)


class NotDigits(Section):
    name: NonEmptyStr
    mirrors: Annotated[list[NonEmptyStr], Field(min_length=1, description="a non-empty list of URLs")]
    test_images: FileEntry


class Confidence(Section):
    bins: integer(2, 100)
    unsure_below: number(0, 1)
    reject_rate: number(0, 0.5)


class Robustness(Section):
    images: integer(10, 10000)
    seed: integer(0)


class Params(BaseModel):
    """The validated params a stage asked for; the sections it did not ask for are None."""
    model_config = ConfigDict(frozen=True)
    dataset: Dataset | None = None
    preprocess: Preprocess | None = None
    model: Model | None = None
    train: Train | None = None
    evaluate: Evaluate | None = None
    visualize: Visualize | None = None
    not_digits: NotDigits | None = None
    confidence: Confidence | None = None
    robustness: Robustness | None = None


SECTIONS = {name: get_args(info.annotation)[0] for name, info in Params.model_fields.items()}


def invalid_field(field, expected):  # a check across fields, reported on one of them
    return PydanticCustomError("invalid_field", "{field}: expected {expected}", {"field": field, "expected": expected})

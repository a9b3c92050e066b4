"""The params.yaml schema: typed, bounded, unknown keys rejected; the one place that loads it.

Every stage calls :func:`load`, so a typo in any section stops whichever stage runs first
(the ``validate`` stage in dvc.yaml) before any output is touched.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, field_validator, model_validator

from pipeline import chapter, fewlabel
from pipeline.errors import ConfigError
from pipeline.schema import (
    Activation,
    Fraction,
    LayerKind,
    LayerName,
    LearningRate,
    Noise,
    PositiveInt,
    RelativePath,
    Sparsity,
    Strict,
)

PARAMS_FILE = "params.yaml"
PIXELS = "pixels"  # name of the first layer's input: the prepared images scaled to [0, 1]
INITIALISATIONS = ("pretrained", "random")  # the encoder a recipe starts from: the stack's weights, or random
RECONSTRUCTED_TEST_IMAGES = 100  # the stack stage saves this many; the report shows report.reconstructions of them


class DataParams(Strict):
    source: Literal["idx", "tfds"] = "idx"
    name: str = Field("fashion_mnist", pattern=r"^[a-z0-9_]+(/[a-z0-9_.]+)?(:[0-9.]+)?$")
    idx_dir: str = "/usr/share/datasets/fashion-mnist"
    tfds_dir: RelativePath = "data/tfds"
    tfds_download: bool = False
    class_names: list[str] | None = None

    @field_validator("tfds_dir")
    @classmethod
    def _inside_repository(cls, path: str) -> str:
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ValueError(f"got '{path}', must be a relative path inside the repository")
        return path


class SplitParams(Strict):
    budgets: list[PositiveInt] = Field(default_factory=lambda: [100, 600, 1000, 3000], min_length=1)
    validation_size: PositiveInt = 5000
    draws: Annotated[int, Field(ge=1, le=100)] = 5
    shard_rows: Annotated[int, Field(ge=0)] = 0

    @field_validator("budgets")
    @classmethod
    def _increasing(cls, budgets: list[int]) -> list[int]:
        if budgets != sorted(set(budgets)):
            raise ValueError(f"got {budgets}, must be strictly increasing (the subsets are nested)")
        return budgets


class LayerParams(Strict):
    input: str
    kind: LayerKind = "dense"
    units: PositiveInt  # a conv layer: its filters
    kernel_size: Annotated[int, Field(ge=1, le=9)] = 3  # conv only: the side of each filter (odd)
    activation: Activation = "selu"
    output_activation: Activation = "linear"
    tied: bool = False
    noise: Noise = "none"
    noise_level: Fraction = 0.2
    sparsity: Sparsity = "none"
    sparsity_target: Annotated[float, Field(gt=0, lt=1)] = 0.1
    sparsity_weight: Annotated[float, Field(ge=0, le=100)] = 0.05
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3

    @model_validator(mode="after")
    def _sparse_codings_are_rates(self) -> LayerParams:
        if self.sparsity == "kl" and self.activation != "sigmoid":
            raise ValueError(
                f"sparsity: 'kl' compares mean activations with a target rate, so it needs "
                f"activation 'sigmoid', got '{self.activation}'"
            )
        return self

    def size_in_words(self) -> str:
        """'300 units', or '16 filters of 3x3, then a 2x2 max-pool'."""
        if self.kind == "conv":
            return f"{self.units} filters of {self.kernel_size}x{self.kernel_size}, then a 2x2 max-pool"
        return f"{self.units} units"

    @field_validator("kernel_size")
    @classmethod
    def _centred(cls, size: int) -> int:
        if size % 2 == 0:
            raise ValueError(f"got {size}, must be odd (a filter centred on its pixel)")
        return size

    @model_validator(mode="after")
    def _conv_is_not_tied(self) -> LayerParams:
        if self.kind == "conv" and self.tied:
            raise ValueError("tied: a 'conv' layer cannot be tied (tied weights transpose a dense kernel)")
        return self


# How a layer is pretrained (its corruption, its codings' penalty, its optimisation), not what network it is: a change
# to one of them leaves data/architecture.json, and so the random-start stages, alone.
PRETRAINING_KEYS = {
    "noise",
    "noise_level",
    "sparsity",
    "sparsity_target",
    "sparsity_weight",
    "epochs",
    "batch_size",
    "learning_rate",
}


class PretrainParams(Strict):
    layers: dict[LayerName, LayerParams] = Field(min_length=1)

    def architecture(self) -> dict[str, dict]:
        """Each layer without how it is pretrained: what a network built from the layers (a random start) is."""
        return {name: layer.model_dump(exclude=PRETRAINING_KEYS) for name, layer in self.layers.items()}

    def input_channels(self, name: str) -> int:
        """The channels of the grid that layer ``name`` reads if it is a conv layer: 1 on the (grey) pixels, else
        the filters of the conv layer below."""
        below = self.layers[name].input
        return 1 if below == PIXELS else self.layers[below].units

    @model_validator(mode="after")
    def _chained(self) -> PretrainParams:
        below = PIXELS
        for name, layer in self.layers.items():
            if name == PIXELS:
                raise ValueError(f"layers.{name}: '{PIXELS}' is reserved for the input images")
            if layer.input != below:
                raise ValueError(
                    f"layers.{name}.input: got '{layer.input}', must be '{below}' "
                    "(each layer trains on the codings of the layer below it)"
                )
            if layer.kind == "conv" and below != PIXELS and self.layers[below].kind != "conv":
                raise ValueError(
                    f"layers.{name}.kind: got 'conv' above the dense layer '{below}', must be 'dense' "
                    "(a convolution needs an image grid: the pixels or a conv layer's codings)"
                )
            below = name
        return self


class StackParams(Strict):
    finetune_epochs: Annotated[int, Field(ge=0)] = 5
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 5e-4


RECIPES = tuple(recipe.name for recipe in fewlabel.RECIPES)  # few-label classifiers, pipeline/fewlabel/<name>/


class ClassifySettings(Strict):
    recipes: list[Literal[RECIPES]] = Field(default_factory=lambda: list(RECIPES), min_length=1)
    # the recipes also trained from a random encoder: the twin that shows what the pretraining adds
    random_start: list[Literal[RECIPES]] = Field(
        default_factory=lambda: [name for name in ("supervised", "frozen") if name in RECIPES]
    )
    use_validation_labels: bool = False
    # the draws of a few-label stage are trained in this many processes at once (1: in the stage's own)
    processes: Annotated[int, Field(ge=1, le=64)] = 2

    @field_validator("recipes", "random_start")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError(f"got {values}, each may appear once")
        return values

    @model_validator(mode="after")
    def _twins_of_run_recipes(self):
        extra = [name for name in self.random_start if name not in self.recipes]
        if extra:
            raise ValueError(f"random_start: got {extra}, which classify.recipes does not run")
        return self


ClassifyParams = create_model(
    "ClassifyParams",
    __base__=ClassifySettings,
    __doc__="Few-label classifiers: one stage per budget and recipe.",
    # required, so a recipe folder without its params block is an error rather than a recipe without settings
    **{recipe.name: (recipe.params, ...) for recipe in fewlabel.RECIPES},
)


class TrainParams(Strict):
    """How the training stages train: devices and input path, not what they learn."""

    strategy: Literal["default", "mirrored", "multi_worker"] = "default"
    cpu_devices: Annotated[int, Field(ge=1, le=64)] = 1
    input: Literal["auto", "arrays", "stream"] = "auto"
    stream_above_mb: PositiveInt = 2048
    shuffle_rows: PositiveInt = 8192

    def reading(self) -> dict:
        """How :func:`pipeline.runtime.shards.read_subsets` reads a training stage's images."""
        return {
            "mode": self.input,
            "stream_above_bytes": self.stream_above_mb * 2**20,
            "shuffle_rows": self.shuffle_rows,
        }


class BaselineParams(Strict):
    max_iter: PositiveInt = 1000
    C: Annotated[float, Field(gt=0)] = 1.0
    neighbours: PositiveInt = 5


ChapterParams = create_model(
    "ChapterParams",
    __base__=Strict,
    __doc__="The rest of the chapter: one ``chapter@<name>`` stage per technique.",
    # required, so a technique folder without its params block is an error rather than a missing stage
    **{technique.name: (technique.params, ...) for technique in chapter.TECHNIQUES if not technique.reads_layers},
)
FeaturesParams = chapter.technique("features").params


class ReportParams(Strict):
    reconstructions: Annotated[int, Field(ge=1, le=RECONSTRUCTED_TEST_IMAGES)] = 10


class MlflowParams(Strict):
    experiment: str = Field("layerwise", min_length=1, max_length=200)


class Params(Strict):
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    data: DataParams = DataParams()
    split: SplitParams = SplitParams()
    pretrain: PretrainParams
    stack: StackParams = StackParams()
    train: TrainParams = TrainParams()
    classify: ClassifyParams
    baseline: BaselineParams = BaselineParams()
    chapter: ChapterParams
    features: FeaturesParams = FeaturesParams()
    report: ReportParams = ReportParams()
    mlflow: MlflowParams = MlflowParams()

    @property
    def layer_names(self) -> list[str]:
        return list(self.pretrain.layers)


def _keys_at(location: tuple) -> list[str]:
    """The keys a section of the schema allows, found by walking the models along an error's location."""
    model: type[BaseModel] = Params
    parts = list(location)
    while parts:
        annotation = model.model_fields[parts.pop(0)].annotation
        if typing.get_origin(annotation) is dict:  # e.g. pretrain.layers.<name>: skip the free-form name
            annotation = typing.get_args(annotation)[1]
            if parts:
                parts.pop(0)
            else:
                return ["<layer name>"]
        model = annotation
    return list(model.model_fields)


def _describe(error: dict) -> str:
    """One readable line for one pydantic error: key path, value found, what is allowed."""
    location = ".".join(str(part) for part in error["loc"])
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        allowed = _keys_at(error["loc"][:-1])
        return f"{location}: unknown key, allowed here: {', '.join(allowed)} (check the spelling)"
    if error["type"] == "missing":
        return f"{location}: missing, this key is required"
    if error["type"] == "model_type":
        return f"{location}: got {error['input']!r}, must be a mapping of keys: {', '.join(_keys_at(error['loc']))}"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
        if location and re.match(r"^[\w.]+: ", message):  # a nested rule names its own key
            return f"{location}.{message}"
        return f"{location}: {message}" if location else message
    message = message.replace("Input should be", "must be").replace("Input", "the value")
    return f"{location}: got {error['input']!r}, {message[0].lower()}{message[1:]}"


def parse(raw: object, source: str = PARAMS_FILE) -> Params:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        errors = error.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {_describe(errors[0])}{more}") from None


def load(path: str | Path = PARAMS_FILE) -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    return parse(raw, str(path))


def json_schema() -> dict:
    return Params.model_json_schema()

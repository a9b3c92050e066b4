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
from pipeline.schema import (  # noqa: F401 (the pretrain layers' schema is read from here too)
    PIXELS,
    PRETRAINING_KEYS,
    LayerParams,
    LearningRate,
    PositiveInt,
    PretrainParams,
    RelativePath,
    Strict,
)

PARAMS_FILE = "params.yaml"
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


class StackParams(Strict):
    finetune_epochs: Annotated[int, Field(ge=0)] = 5
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 5e-4


RECIPES = tuple(recipe.name for recipe in fewlabel.RECIPES)  # few-label classifiers, pipeline/fewlabel/<name>/


class ClassifySettings(Strict):
    recipes: list[Literal[RECIPES]] = Field(
        default_factory=lambda: [recipe.name for recipe in fewlabel.RECIPES if recipe.by_default], min_length=1
    )
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

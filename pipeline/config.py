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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

PARAMS_FILE = "params.yaml"
PIXELS = "pixels"  # name of the first layer's input: the prepared images scaled to [0, 1]
RECIPES = ("supervised", "frozen", "autoencoder", "propagation")  # few-label classifiers, pipeline/fewlabel/
INITIALISATIONS = ("pretrained", "random")  # the encoder a recipe starts from: the stack's weights, or random
RECONSTRUCTED_TEST_IMAGES = 100  # the stack stage saves this many; the report shows report.reconstructions of them

PositiveInt = Annotated[int, Field(gt=0)]
LearningRate = Annotated[float, Field(gt=0, le=10)]
Activation = Literal["selu", "elu", "relu", "tanh", "sigmoid", "linear"]
LayerName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")]
RelativePath = Annotated[str, Field(min_length=1)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
Units = Annotated[list[PositiveInt], Field(min_length=1, max_length=8)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    @field_validator("budgets")
    @classmethod
    def _increasing(cls, budgets: list[int]) -> list[int]:
        if budgets != sorted(set(budgets)):
            raise ValueError(f"got {budgets}, must be strictly increasing (the subsets are nested)")
        return budgets


class LayerParams(Strict):
    input: str
    units: PositiveInt
    activation: Activation = "selu"
    output_activation: Activation = "linear"
    tied: bool = False
    noise: Literal["none", "gaussian", "dropout"] = "none"
    noise_level: Fraction = 0.2
    sparsity: Literal["none", "kl", "l1"] = "none"
    sparsity_target: Annotated[float, Field(gt=0, lt=1)] = 0.1
    sparsity_weight: Annotated[float, Field(ge=0, le=100)] = 0.05
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3

    @model_validator(mode="after")
    def _sparse_codings_are_rates(self) -> LayerParams:
        if self.sparsity == "kl" and self.activation != "sigmoid":
            raise ValueError(f"sparsity: 'kl' compares mean activations with a target rate, so it needs "
                             f"activation 'sigmoid', got '{self.activation}'")
        return self


class PretrainParams(Strict):
    layers: dict[LayerName, LayerParams] = Field(min_length=1)

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
            below = name
        return self


class StackParams(Strict):
    finetune_epochs: Annotated[int, Field(ge=0)] = 5
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3


class SupervisedParams(Strict):
    """Encoder + softmax head on the labelled images only (``frozen``: only the head learns)."""

    epochs: PositiveInt = 50
    batch_size: PositiveInt = 32
    learning_rate: LearningRate = 1e-3


class AutoencoderRecipeParams(Strict):
    """Encoder + head + stacked decoder trained together: cross-entropy on labelled images, denoising
    reconstruction of unlabelled ones (every step sees one batch of each)."""

    steps: PositiveInt = 3000
    labelled_batch: PositiveInt = 32
    unlabelled_batch: PositiveInt = 128
    noise_stddev: Annotated[float, Field(ge=0, le=1)] = 0.3
    reconstruction_weight: Annotated[float, Field(ge=0, le=1000)] = 1.0
    learning_rate: LearningRate = 1e-3


class PropagationParams(Strict):
    """Encoder + head first trained on the labelled images; labels spread over a kNN graph of its codings of
    every training image; then encoder + head trained afresh on the labelled and the propagated labels."""

    method: Literal["poisson", "laplace"] = "poisson"
    neighbours: Annotated[int, Field(ge=2, le=100)] = 10
    warmup_epochs: PositiveInt = 50
    warmup_batch_size: PositiveInt = 32
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3
    labelled_share: Annotated[float, Field(gt=0, lt=1)] = 1 / 3  # of each epoch of the second training
    flip: bool = True  # mirror images left-right while training on propagated labels (not for digits or text)
    shift_pixels: Annotated[int, Field(ge=0, le=8)] = 2  # and shift them by up to this many pixels


class ClassifyParams(Strict):
    recipes: list[Literal[RECIPES]] = Field(default_factory=lambda: list(RECIPES), min_length=1)
    initialisations: list[Literal[INITIALISATIONS]] = Field(default_factory=lambda: list(INITIALISATIONS), min_length=1)
    use_validation_labels: bool = False
    supervised: SupervisedParams = SupervisedParams()
    frozen: SupervisedParams = SupervisedParams()
    autoencoder: AutoencoderRecipeParams = AutoencoderRecipeParams()
    propagation: PropagationParams = PropagationParams()

    @field_validator("recipes", "initialisations")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError(f"got {values}, each may appear once")
        return values


class BaselineParams(Strict):
    max_iter: PositiveInt = 1000
    C: Annotated[float, Field(gt=0)] = 1.0


class TrainingParams(Strict):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3


class LinearPcaParams(TrainingParams):
    """Linear autoencoder against PCA: on a 3-D synthetic cloud (k=2), and on the images (k=codings)."""

    codings: PositiveInt = 30
    synthetic_points: Annotated[int, Field(ge=10, le=100_000)] = 500
    synthetic_epochs: PositiveInt = 200
    synthetic_learning_rate: LearningRate = 0.01


class TiedParams(TrainingParams):
    units: Units = Field(default_factory=lambda: [100, 30])


class PhasesParams(TrainingParams):
    """Greedy training three ways plus the joint baseline; ``epochs`` per layer, ``joint_epochs`` for the baseline."""

    units: Units = Field(default_factory=lambda: [100, 30])
    joint_epochs: PositiveInt = 20


class DenoisingParams(TrainingParams):
    units: Units = Field(default_factory=lambda: [100, 30])
    gaussian_stddev: Annotated[float, Field(gt=0, le=1)] = 0.2
    dropout_rate: Annotated[float, Field(gt=0, lt=1)] = 0.5
    overcomplete_units: PositiveInt = 1000


class SparsityParams(TrainingParams):
    """The top layer of ``units`` is the sparse coding layer (sigmoid)."""

    units: Units = Field(default_factory=lambda: [100, 300])
    kl_target: Annotated[float, Field(gt=0, lt=1)] = 0.1
    kl_weight: Annotated[float, Field(gt=0, le=100)] = 0.05
    l1_weight: Annotated[float, Field(gt=0, le=100)] = 1e-4


class FeaturesParams(Strict):
    neurons: Annotated[int, Field(ge=1, le=32)] = 8
    top_images: Annotated[int, Field(ge=1, le=16)] = 5
    ascent_steps: PositiveInt = 200
    ascent_rate: LearningRate = 0.05
    probe_max_iter: PositiveInt = 1000


class VaeParams(TrainingParams):
    units: Units = Field(default_factory=lambda: [150, 100])
    codings: PositiveInt = 10
    grid: Annotated[int, Field(ge=1, le=16)] = 6
    walk_steps: Annotated[int, Field(ge=2, le=16)] = 8


class ConvParams(TrainingParams):
    filters: Annotated[list[PositiveInt], Field(min_length=1, max_length=4)] = Field(default_factory=lambda: [16, 32])
    codings: PositiveInt = 30


class ChapterParams(Strict):
    """The rest of the autoencoders chapter: one stage each (``chapter@<name>`` and ``features`` in dvc.yaml)."""

    linear_pca: LinearPcaParams = LinearPcaParams()
    tied: TiedParams = TiedParams()
    phases: PhasesParams = PhasesParams()
    denoising: DenoisingParams = DenoisingParams()
    sparsity: SparsityParams = SparsityParams()
    features: FeaturesParams = FeaturesParams()
    vae: VaeParams = VaeParams()
    conv: ConvParams = ConvParams()


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
    classify: ClassifyParams = ClassifyParams()
    baseline: BaselineParams = BaselineParams()
    chapter: ChapterParams = ChapterParams()
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
        message = message[len("Value error, "):]
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

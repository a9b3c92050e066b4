"""The building blocks of the params.yaml schema, shared by :mod:`pipeline.config` and each technique's own params,
and the pretrain layers' schema (read through :mod:`pipeline.config` too).

Light on purpose (pydantic only): the ``validate`` stage and every technique's params class import it without
paying for TensorFlow.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PIXELS = "pixels"  # name of the first layer's input: the prepared images scaled to [0, 1]

PositiveInt = Annotated[int, Field(gt=0)]
LearningRate = Annotated[float, Field(gt=0, le=10)]
Activation = Literal["selu", "elu", "relu", "tanh", "sigmoid", "linear"]
Noise = Literal["none", "gaussian", "dropout"]  # corruption of a layer's input while it trains
Sparsity = Literal["none", "kl", "l1"]  # activity penalty on a layer's codings
LayerKind = Literal["dense", "conv"]  # a pretrain layer: fully connected, or convolutions then a 2x2 max-pool
LayerName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")]
RelativePath = Annotated[str, Field(min_length=1)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
Units = Annotated[list[PositiveInt], Field(min_length=1, max_length=8)]


class Strict(BaseModel):
    """Unknown keys are refused (a typo is an error, not a silently ignored setting); values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingParams(Strict):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3


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
        """Each layer without how it is pretrained: what a network built from the layers (a random start) is. A dense
        layer leaves out the kernel_size it does not use."""
        return {
            name: layer.model_dump(exclude=PRETRAINING_KEYS | ({"kernel_size"} if layer.kind == "dense" else set()))
            for name, layer in self.layers.items()
        }

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

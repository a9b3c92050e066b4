"""The building blocks of the params.yaml schema, shared by :mod:`pipeline.config` and each technique's own params.

Light on purpose (pydantic only): the ``validate`` stage and every technique's params class import it without
paying for TensorFlow.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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

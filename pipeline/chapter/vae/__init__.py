"""Generating images with a variational autoencoder."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import PositiveInt, TrainingParams, Units

TITLE = "Variational autoencoders: generating images"
ORDER = 8


class Params(TrainingParams):
    units: Units = Field(default_factory=lambda: [150, 100])
    codings: PositiveInt = 10
    grid: Annotated[int, Field(ge=1, le=16)] = 6
    walk_steps: Annotated[int, Field(ge=2, le=16)] = 8

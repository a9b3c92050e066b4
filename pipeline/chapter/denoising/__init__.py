"""Denoising autoencoders: corrupted inputs, clean targets."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import PositiveInt, TrainingParams, Units

TITLE = "Denoising autoencoders"
ORDER = 6


class Params(TrainingParams):
    units: Units = Field(default_factory=lambda: [100, 30])
    gaussian_stddev: Annotated[float, Field(gt=0, le=1)] = 0.2
    dropout_rate: Annotated[float, Field(gt=0, lt=1)] = 0.5
    overcomplete_units: PositiveInt = 1000

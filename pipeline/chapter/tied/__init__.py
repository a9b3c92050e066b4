"""Tied weights: each decoder reuses its encoder's kernel, transposed, halving the parameters."""

from pydantic import Field

from pipeline.schema import TrainingParams, Units

TITLE = "Tying weights"
ORDER = 2


class Params(TrainingParams):
    units: Units = Field(default_factory=lambda: [100, 30])

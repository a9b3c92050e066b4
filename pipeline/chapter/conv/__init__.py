"""A convolutional autoencoder, to set against the dense ones at the same code size."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import PositiveInt, TrainingParams

TITLE = "Convolutional autoencoders"
ORDER = 5


class Params(TrainingParams):
    filters: Annotated[list[PositiveInt], Field(min_length=1, max_length=4)] = Field(default_factory=lambda: [16, 32])
    codings: PositiveInt = 30

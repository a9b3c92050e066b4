"""A convolutional autoencoder, to set against the dense ones at the same code size."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import PositiveInt, TrainingParams

TITLE = "Convolutional autoencoders"
ORDER = 5


class Params(TrainingParams):
    filters: Annotated[list[PositiveInt], Field(min_length=1, max_length=4)] = Field(default_factory=lambda: [16, 32])
    epochs: PositiveInt = 20  # as many as the dense stack it is set against (phases.joint_epochs)
    codings: PositiveInt = 30

"""A linear autoencoder trained with the MSE finds PCA's subspace: the two compared on 3-D points and on images."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import LearningRate, PositiveInt, TrainingParams

TITLE = "Performing PCA with an undercomplete linear autoencoder"
ORDER = 1


class Params(TrainingParams):
    """On a 3-D synthetic cloud (k=2), and on the images (k=codings)."""

    epochs: PositiveInt = 20
    batch_size: PositiveInt = 256
    codings: PositiveInt = 30
    synthetic_points: Annotated[int, Field(ge=10, le=100_000)] = 500
    synthetic_epochs: PositiveInt = 200
    synthetic_learning_rate: LearningRate = 0.01

"""Sparse autoencoders: a penalty keeps most coding units near zero."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import TrainingParams, Units

TITLE = "Sparse autoencoders"
ORDER = 7
BOOK_VALIDATION_MSE = ([100, 300], 0.0099)  # the book's KL-sparse stack on Fashion-MNIST: its sizes and its number


class Params(TrainingParams):
    """The top layer of ``units`` is the sparse coding layer (sigmoid)."""

    units: Units = Field(default_factory=lambda: [100, 300])
    kl_target: Annotated[float, Field(gt=0, lt=1)] = 0.1
    kl_weight: Annotated[float, Field(gt=0, le=100)] = 0.05
    l1_weight: Annotated[float, Field(gt=0, le=100)] = 1e-4

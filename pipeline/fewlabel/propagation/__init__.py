"""Label propagation on the encoder's codings, then the encoder + head trained on the propagated labels."""

from typing import Annotated, Literal

from pydantic import Field

from pipeline.schema import LearningRate, PositiveInt, Strict

TITLE = "label propagation, then encoder + head"
SUMMARY = (
    "*label propagation* (the labels spread over a nearest-neighbour graph of every training image's codings, by "
    "Poisson or Laplace learning as `classify.propagation.method` says, then the encoder and head learn from them)"
)
ORDER = 4


class Params(Strict):
    """Encoder + head first trained on the labelled images; labels spread over a kNN graph of its codings of
    every training image; then encoder + head trained afresh on the labelled and the propagated labels."""

    method: Literal["poisson", "laplace"] = "poisson"
    neighbours: Annotated[int, Field(ge=2, le=100)] = 10
    warmup_epochs: PositiveInt = 50
    warmup_batch_size: PositiveInt = 32
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3
    labelled_share: Annotated[float, Field(gt=0, lt=1)] = 0.333  # of each epoch of the second training
    flip: bool = True  # mirror images left-right while training on propagated labels (not for digits or text)
    shift_pixels: Annotated[int, Field(ge=0, le=8)] = 2  # and shift them by up to this many pixels

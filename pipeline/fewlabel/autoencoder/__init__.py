"""A semi-supervised autoencoder: encoder, softmax head and stacked decoder trained together."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import LearningRate, PositiveInt, Strict

TITLE = "semi-supervised autoencoder"
SUMMARY = (
    "a *semi-supervised autoencoder* (encoder, head and decoder trained together: cross-entropy on the "
    "labels plus the reconstruction of the unlabelled images from noisy inputs)"
)
ORDER = 3


class Params(Strict):
    """Every step sees one labelled and one unlabelled batch."""

    steps: PositiveInt = 750  # as good as 1,500 on the validation split (docs/numbers.md)
    labelled_batch: PositiveInt = 32
    unlabelled_batch: PositiveInt = 128
    noise_stddev: Annotated[float, Field(ge=0, le=1)] = 0.3
    reconstruction_weight: Annotated[float, Field(ge=0, le=1000)] = 1.0
    learning_rate: LearningRate = 1e-3

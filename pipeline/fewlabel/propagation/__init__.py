"""Label propagation over a nearest-neighbour graph of every training image, then the encoder + head trained on
the propagated labels.

The recipe's jobs, one module each: ``patches`` (the features the graph measures closeness on), ``graph`` (the
nearest-neighbour graph, built once per dataset by the `graph` stage), ``spread`` (the labels of a draw spread over
it, and the vote that carries them to new images: the `labels` stage) and ``train`` (the student network, the only
part the encoder's start changes: the `classify` stages).
"""

from typing import Annotated, Literal

from pydantic import Field

from pipeline.schema import LearningRate, PositiveInt, Strict

TITLE = "label propagation, then encoder + head with a neighbours' vote"
SUMMARY = (
    "*label propagation* (the labels spread over a nearest-neighbour graph of every training image, whose k-means "
    "patch features, learnt from the unlabelled images, are close, by Poisson or Laplace learning as "
    "`classify.propagation.method` says; then the encoder and head learn from them, their answer averaged with "
    "the vote of the image's nearest training images)"
)
ORDER = 4
LEARNS_FROM_GRAPH = True  # its classify stages read the labels stage's propagated labels and votes


class PatchParams(Strict):
    """Coates & Ng's single-layer k-means features: what the graph measures closeness with."""

    size: Annotated[int, Field(ge=2, le=16)] = 5  # side of the square patches, in pixels
    centroids: Annotated[int, Field(ge=2, le=4096)] = 400  # k-means centroids learnt from unlabelled patches
    grid: Annotated[int, Field(ge=1, le=8)] = 3  # activations summed over grid x grid regions of the image
    dims: Annotated[int, Field(ge=2, le=1024)] = 50  # principal components kept, each scaled to variance 1


class Params(Strict):
    """Labels spread over a kNN graph of every training image's patch features; then encoder + head trained on the
    labelled and the propagated labels; its answer averaged with the nearest training images' vote."""

    patches: PatchParams = PatchParams()
    method: Literal["poisson", "laplace"] = "laplace"
    neighbours: Annotated[int, Field(ge=2, le=100)] = 10
    epochs: PositiveInt = 2  # few: the vote carries most of the answer (docs/numbers.md has the measurements)
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3
    labelled_share: Annotated[float, Field(gt=0, lt=1)] = 0.333  # of each epoch of the training on propagated labels
    vote_weight: Annotated[float, Field(ge=0, le=1)] = 0.5  # of the final answer: nearest training images' vote
    flip: bool = True  # mirror images left-right while training on propagated labels (not for digits or text)
    shift_pixels: Annotated[int, Field(ge=0, le=8)] = 2  # and shift them by up to this many pixels

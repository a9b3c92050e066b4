"""Label propagation over a nearest-neighbour graph of every training image, then the encoder + head trained on
the propagated labels."""

from typing import Annotated, Literal

from pydantic import Field

from pipeline.schema import LearningRate, PositiveInt, Strict

TITLE = "label propagation, then encoder + head with a neighbours' vote"
SUMMARY = (
    "*label propagation* (the labels spread over a nearest-neighbour graph of every training image, by Poisson or "
    "Laplace learning as `classify.propagation.method` says, then the encoder and head learn from them, their "
    "answer averaged with the vote of the image's nearest training images; the graph joins images whose k-means "
    "patch features, learnt from the unlabelled images, are close, or whose codings are, as "
    "`classify.propagation.graph` says)"
)
ORDER = 4


class PatchParams(Strict):
    """Coates & Ng's single-layer k-means features: what the graph measures closeness with by default."""

    size: Annotated[int, Field(ge=2, le=16)] = 5  # side of the square patches, in pixels
    centroids: Annotated[int, Field(ge=2, le=4096)] = 400  # k-means centroids learnt from unlabelled patches
    grid: Annotated[int, Field(ge=1, le=8)] = 3  # activations summed over grid x grid regions of the image
    dims: Annotated[int, Field(ge=2, le=1024)] = 50  # principal components kept, each scaled to variance 1


class Params(Strict):
    """Labels spread over a kNN graph of every training image (of their patch features, or of the codings of an
    encoder + head first trained on the labelled images); then encoder + head trained on the labelled and the
    propagated labels; its answer averaged with the nearest training images' vote."""

    graph: Literal["patches", "codings"] = "patches"  # patch features of the images, or the warm-up's codings
    patches: PatchParams = PatchParams()
    method: Literal["poisson", "laplace"] = "laplace"
    neighbours: Annotated[int, Field(ge=2, le=100)] = 10
    warmup_steps: PositiveInt = 3000  # Adam updates of the warm-up, which trains only for graph: codings
    warmup_batch_size: PositiveInt = 32
    epochs: PositiveInt = 20
    batch_size: PositiveInt = 128
    learning_rate: LearningRate = 1e-3
    labelled_share: Annotated[float, Field(gt=0, lt=1)] = 0.333  # of each epoch of the training on propagated labels
    vote_weight: Annotated[float, Field(ge=0, le=1)] = 0.5  # of the final answer: nearest training images' vote
    flip: bool = True  # mirror images left-right while training on propagated labels (not for digits or text)
    shift_pixels: Annotated[int, Field(ge=0, le=8)] = 2  # and shift them by up to this many pixels

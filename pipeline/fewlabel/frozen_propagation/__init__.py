"""The encoder kept fixed, a small network and the nearest neighbours on its top codings learn label propagation's
labels of every training image: the recipe in which the codings, and so the pretraining, make the difference.

The propagation recipe's student fine-tunes the whole encoder on 55,000 propagated labels, and from a random start
it learns as well as from the pretrained one. Frozen, the encoder can only help through its codings; on the
validation split, a pretrained 30-unit third layer read this way beat a random one of the same shape by 3.3 points
at 100 labels (docs/pretraining.md). Not in the default recipes: add it to classify.recipes and
classify.random_start.
"""

from typing import Annotated

from pydantic import Field

from pipeline.schema import PositiveInt, Strict

TITLE = "label propagation, then a read-out of the frozen codings"
SUMMARY = (
    "*frozen propagation* (the labels spread over the patch graph as in label propagation; a network of one hidden "
    "layer and the nearest neighbours, on the frozen encoder's standardised top codings, learn every training "
    "image's label, and their answers are averaged)"
)
ORDER = 5
LEARNS_FROM_GRAPH = True  # its classify stages read the labels stage's propagated labels and votes
DISTRIBUTED = False  # scikit-learn's read-outs on one process; the encoder only predicts
BY_DEFAULT = False  # its two stages would take the loop's pretraining change past 8 minutes (docs/pretraining.md)


class Params(Strict):
    """A network and the nearest neighbours on the frozen top codings, taught by every training image's propagated
    label; chosen on the validation split (docs/pretraining.md)."""

    hidden_units: PositiveInt = 256
    epochs: PositiveInt = 16
    batch_size: PositiveInt = 128
    learning_rate: Annotated[float, Field(gt=0)] = 0.001
    neighbours: Annotated[int, Field(ge=0)] = 20  # the nearest codings' vote, averaged with the network; 0: none
    vote_weight: Annotated[float, Field(ge=0, le=1)] = 0.0  # of the final answer: the graph's vote (the nearest
    # training images' by the patch features); with the vote at 0.5 every start scores about as the vote does

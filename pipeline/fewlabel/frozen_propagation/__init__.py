"""The encoder kept fixed, a logistic regression on its top codings learnt from label propagation's labels of every
training image: the recipe in which the codings, and so the pretraining, make the difference.

The propagation recipe's student fine-tunes the whole encoder on 55,000 propagated labels, and from a random start
it learns as well as from the pretrained one. Frozen, the encoder can only help through its codings; on the
validation split a pretrained 60-unit third layer gave +3.1 points over a random one of the same shape at 100
labels (docs/pretraining.md). Not in the default recipes: add it to classify.recipes and classify.random_start.
"""

from typing import Annotated

from pydantic import Field

from pipeline.schema import PositiveInt, Strict

TITLE = "label propagation, then logistic regression on the frozen codings"
SUMMARY = (
    "*frozen propagation* (the labels spread over the patch graph as in label propagation; a logistic regression on "
    "the frozen encoder's top codings, each column standardised, learns every training image's label)"
)
ORDER = 5
LEARNS_FROM_GRAPH = True  # its classify stages read the labels stage's propagated labels and votes
DISTRIBUTED = False  # scikit-learn's lbfgs on one process; the encoder only predicts


class Params(Strict):
    """A logistic regression on the frozen top codings, taught by every training image's propagated label."""

    C: Annotated[float, Field(gt=0)] = 1.0  # inverse L2 strength, as the probe's
    max_iter: PositiveInt = 1000
    vote_weight: Annotated[float, Field(ge=0, le=1)] = 0.0  # of the final answer: the nearest training images'
    # vote; with the vote at 0.5 every start scores as the vote does (docs/pretraining.md)

"""Few-label classifiers: each recipe is one module with a ``train(problem, params, pretrained)`` function.

Every recipe starts from the pretrained encoder stack (the ``stack`` stage's weights) or from a random
one, trains on one labelled draw (and, for the semi-supervised recipes, the unlabelled training images)
and returns its metrics. ``RECIPES`` maps each name of ``classify.recipes`` to its module and its title.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from pipeline.config import LayerParams


@dataclass
class Problem:
    """What a recipe may use: the labelled few, every training image (unlabelled) and the test set to score.

    ``pool_labels`` are the training images' true labels: recipes never train on them; they only measure
    how right propagated labels were (a diagnostic a real few-label user could not compute).
    """

    layers: dict[str, LayerParams]
    weights: dict[str, dict[str, np.ndarray]]  # the stack's encoder and decoder weights, per layer
    pool: np.ndarray  # every training image (the unlabelled pool; the labelled ones are among them)
    labelled_rows: np.ndarray  # rows of ``pool`` whose labels are known
    labels: np.ndarray
    test: tuple[np.ndarray, np.ndarray]
    class_count: int
    seed: int
    pool_labels: np.ndarray | None = None
    validation: tuple[np.ndarray, np.ndarray] | None = None  # only when classify.use_validation_labels

    @property
    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        return self.pool[self.labelled_rows], self.labels


def draw_seed(seed: int, draw: int) -> int:
    """The seed of the classifiers trained on labelled draw ``draw``: each draw its own, all from params.seed."""
    return int(np.random.SeedSequence([seed, draw]).generate_state(1)[0] >> 1)


def _modules() -> dict[str, ModuleType]:
    from pipeline.fewlabel import autoencoder, propagation, supervised

    return {"supervised": supervised, "frozen": supervised, "autoencoder": autoencoder, "propagation": propagation}


TITLES = {
    "supervised": "supervised (encoder + head, labels only)",
    "frozen": "frozen encoder, head trained on labels",
    "autoencoder": "semi-supervised autoencoder",
    "propagation": "label propagation, then encoder + head",
    "logistic_regression": "logistic regression on pixels",
}


def train(recipe: str, problem: Problem, params, pretrained: bool) -> dict[str, float]:
    """Train ``recipe`` (a name of classify.recipes) with its params section; return its metrics."""
    module = _modules()[recipe]
    if recipe == "frozen":
        return module.train(problem, params, pretrained, trainable_encoder=False)
    return module.train(problem, params, pretrained)

"""What the few-label recipes share: the problem they solve, each draw's seed, the plain encoder + head
training and the scores every recipe reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.config import LayerParams
from pipeline.runtime.shards import Sharded
from pipeline.stats import accuracy

if TYPE_CHECKING:
    from pipeline.fewlabel.labels import GraphLabels
    from pipeline.training import CompiledTwins


@dataclass(kw_only=True)
class Problem:
    """What a recipe may use: the labelled few, every training image (unlabelled) and the test set to score;
    for a recipe that learns from the label-propagation graph, what the graph says on this draw."""

    layers: dict[str, LayerParams]
    weights: dict[str, dict[str, np.ndarray]]  # the stack's encoder and decoder weights, per layer
    pool: np.ndarray | Sharded  # every training image (the unlabelled pool; the labelled ones among them)
    labelled_rows: np.ndarray  # rows of ``pool`` whose labels are known
    labels: np.ndarray
    test: tuple[np.ndarray, np.ndarray]
    class_count: int
    seed: int  # this draw's
    graph: GraphLabels | None = None  # the labels stage's, for a recipe with LEARNS_FROM_GRAPH
    validation: tuple[np.ndarray, np.ndarray] | None = None  # only when classify.use_validation_labels
    twins: CompiledTwins | None = None  # the stage's compiled models, reused by each of its draws

    @property
    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        return self.images(self.labelled_rows), self.labels

    def images(self, rows: np.ndarray) -> np.ndarray:
        """Pool images by row (any shape of row indices), read from the shards that hold them when streamed."""
        if isinstance(self.pool, Sharded):
            return self.pool.take(np.ravel(rows)).reshape(*np.shape(rows), *self.pool.row_shape)
        return self.pool[rows]

    def whole_pool(self) -> np.ndarray:
        """Every training image in memory (recipes that need all of them at once)."""
        return self.pool.load() if isinstance(self.pool, Sharded) else self.pool

    def classifier(self, pretrained: bool, trainable_encoder: bool = True):
        """Encoder + softmax head for this problem's images and classes, its encoder the stack's (``pretrained``) or
        freshly initialised: the twins every recipe compares."""
        from pipeline.models.autoencoders import classifier

        return classifier(
            self.layers,
            self.pool.shape[1],
            self.class_count,
            encoder_weights=self.weights if pretrained else None,
            trainable_encoder=trainable_encoder,
        )

    def graph_labels(self, recipe: str) -> GraphLabels:
        """What the graph says on this draw, for a recipe that cannot work without it."""
        if self.graph is None:
            raise ValueError(f"{recipe}: the problem carries no graph labels; the labels stage computes them")
        return self.graph


def epochs_for_steps(steps: int, count: int, batch_size: int) -> int:
    """The fewest epochs over ``count`` images that make ``steps`` updates. Training on a few labels is counted in
    updates: in epochs, 100 labels would get 24 times fewer than 3,000 labels, too few for a head to converge."""
    return max(1, -(-steps // -(-count // batch_size)))


def train_classifier(problem: Problem, params, pretrained: bool, trainable_encoder: bool = True) -> dict[str, float]:
    """Encoder + softmax head on the labelled images only (``params.steps`` updates); ``trainable_encoder``
    False trains the head alone."""
    import keras

    from pipeline.training import fit

    model = problem.classifier(pretrained, trainable_encoder)
    epochs = epochs_for_steps(params.steps, len(problem.labels), params.batch_size)
    callbacks = []
    if problem.validation is not None:  # patience: a fifth of the training
        callbacks.append(
            keras.callbacks.EarlyStopping("val_accuracy", patience=max(1, epochs // 5), restore_best_weights=True)
        )
    trainee, (images, labels), validation = model, problem.labelled, problem.validation
    if not trainable_encoder:
        trainee, encode = head_on_codings(model, problem.twins)
        images = encode(images)
        validation = validation and (encode(validation[0]), validation[1])
    fit(
        trainee,
        images,
        labels,
        epochs=epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        loss="sparse_categorical_crossentropy",
        history=False,  # only the final weights count
        twins=problem.twins,  # every draw of the stage trains this architecture
        metrics=["accuracy"],
        validation_data=validation,
        callbacks=callbacks,
    )
    return scores(model, problem, saw_validation_labels=problem.validation is not None)


def head_on_codings(model, twins: CompiledTwins | None = None):
    """The head of ``model`` (a :func:`~pipeline.models.autoencoders.classifier` whose encoder is frozen) as a model of
    its own, on the codings, and the function that computes them: the frozen layers' outputs are computed once and
    cached, as the greedy pretraining does, and the head trains on them. The very steps of training ``model``
    whole, since a frozen encoder gives the same codings at every step, without running the encoder at each one.
    The head's layer is shared: training it trains ``model``."""
    import keras

    head_layer = model.layers[-1]  # the softmax on the top layer's codings
    encoder = keras.Model(model.inputs, head_layer.input)
    head = keras.Sequential([keras.Input(shape=head_layer.input.shape[1:]), head_layer])
    return head, lambda images: predict(encoder, images, twins)


def predict(model, images: np.ndarray, twins: CompiledTwins | None = None) -> np.ndarray:
    """The network's class probabilities, in batches of 1,024 (``model.evaluate`` fails under
    MultiWorkerMirroredStrategy in Keras 3.15; ``predict`` works under every strategy); with the stage's ``twins``,
    by its predictor of the same architecture (:meth:`~pipeline.training.CompiledTwins.predictor`)."""
    predictor = model if twins is None else twins.predictor(model)
    return predictor.predict(images, batch_size=1024, verbose=0)


def voted_scores(model, problem: Problem, test_answers, labelled_answers, vote_weight: float) -> dict[str, float]:
    """:func:`scores` of a graph recipe's final answer: its own class probabilities averaged with the graph's vote
    (the nearest training images'), the vote weighing ``vote_weight``."""
    graph = problem.graph_labels("the vote")
    return scores(
        model,
        problem,
        test_answers=(1 - vote_weight) * test_answers + vote_weight * graph.test_vote,
        labelled_answers=(1 - vote_weight) * labelled_answers + vote_weight * graph.labelled_vote,
    )


def scores(
    model, problem: Problem, saw_validation_labels: bool = False, test_answers=None, labelled_answers=None
) -> dict[str, float]:
    """Test accuracy, and the accuracy on the labelled images with the weights kept; of the given class
    probabilities where a recipe's final answer is more than ``model``'s."""
    images, labels = problem.labelled
    test_answers = predict(model, problem.test[0], problem.twins) if test_answers is None else test_answers
    labelled_answers = predict(model, images, problem.twins) if labelled_answers is None else labelled_answers
    return {
        "test_accuracy": accuracy(test_answers, problem.test[1]),
        "train_accuracy": accuracy(labelled_answers, labels),
        "labels_seen": int(len(labels) + (len(problem.validation[1]) if saw_validation_labels else 0)),
        "trainable_parameters": int(sum(np.prod(weight.shape) for weight in model.trainable_weights)),
    }

"""What the few-label recipes share: the problem they solve, each draw's seed, the plain encoder + head
training and the scores every recipe reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.config import LayerParams
from pipeline.data.shards import Sharded


@dataclass(kw_only=True)
class Problem:
    """What a recipe may use: the labelled few, every training image (unlabelled) and the test set to score.

    ``pool_labels`` are the training images' true labels: recipes never train on them; they only measure
    how right propagated labels were (a diagnostic a real few-label user could not compute).
    """

    layers: dict[str, LayerParams]
    weights: dict[str, dict[str, np.ndarray]]  # the stack's encoder and decoder weights, per layer
    pool: np.ndarray | Sharded  # every training image (the unlabelled pool; the labelled ones among them)
    labelled_rows: np.ndarray  # rows of ``pool`` whose labels are known
    labels: np.ndarray
    test: tuple[np.ndarray, np.ndarray]
    class_count: int
    seed: int  # this draw's
    pool_seed: int  # what a recipe learns from the unlabelled pool alone: the same for every draw
    pool_labels: np.ndarray | None = None
    validation: tuple[np.ndarray, np.ndarray] | None = None  # only when classify.use_validation_labels

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


def draw_seed(seed: int, draw: int) -> int:
    """The seed of the classifiers trained on labelled draw ``draw``: each draw its own, all from params.seed.
    Draws count from 1; draw 0 seeds what is learnt from the unlabelled pool alone."""
    return int(np.random.SeedSequence([seed, draw]).generate_state(1)[0] >> 1)


def epochs_for_steps(steps: int, count: int, batch_size: int) -> int:
    """The fewest epochs over ``count`` images that make ``steps`` updates. Training on a few labels is counted in
    updates: in epochs, 100 labels would get 24 times fewer than 3,000 labels (50 epochs, 200 updates, left a linear
    probe of the pretrained codings at 55 % on the validation split at 100 labels; 3,000 updates, at 68 %)."""
    return max(1, -(-steps // -(-count // batch_size)))


def train_classifier(problem: Problem, params, pretrained: bool, trainable_encoder: bool = True) -> dict[str, float]:
    """Encoder + softmax head on the labelled images only (``params.steps`` updates); ``trainable_encoder``
    False trains the head alone."""
    import keras

    from pipeline.models.autoencoders import classifier
    from pipeline.training import fit

    model = classifier(
        problem.layers,
        problem.pool.shape[1],
        problem.class_count,
        encoder_weights=problem.weights if pretrained else None,
        trainable_encoder=trainable_encoder,
    )
    epochs = epochs_for_steps(params.steps, len(problem.labels), params.batch_size)
    callbacks = []
    if problem.validation is not None:  # patience: a fifth of the training
        callbacks.append(
            keras.callbacks.EarlyStopping("val_accuracy", patience=max(1, epochs // 5), restore_best_weights=True)
        )
    fit(
        model,
        *problem.labelled,
        epochs=epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        loss="sparse_categorical_crossentropy",
        history=False,  # only the final weights count
        reuse_compiled=True,  # every draw trains this architecture
        metrics=["accuracy"],
        validation_data=problem.validation,
        callbacks=callbacks,
    )
    return scores(model, problem, saw_validation_labels=problem.validation is not None)


def network_answers(model) -> Callable[[np.ndarray], np.ndarray]:
    """The network's class probabilities for images, in batches of 1,024 (``model.evaluate`` fails under
    MultiWorkerMirroredStrategy in Keras 3.15; ``predict`` works under every strategy)."""
    return lambda images: model.predict(images, batch_size=1024, verbose=0)


def accuracy(answers: Callable[[np.ndarray], np.ndarray], images: np.ndarray, labels: np.ndarray) -> float:
    """Share of right answers (the most probable class), rounded to float32 as Keras's accuracy metric reports it."""
    right = np.argmax(answers(images), axis=-1) == labels
    return float(np.float32(np.count_nonzero(right)) / np.float32(len(labels)))


def scores(model, problem: Problem, saw_validation_labels: bool = False, answers=None) -> dict[str, float]:
    """Test accuracy, and the accuracy on the labelled images with the weights kept; of ``answers`` (class
    probabilities for images) where a recipe's final answer is more than ``model``'s."""
    answers = answers or network_answers(model)
    return {
        "test_accuracy": accuracy(answers, *problem.test),
        "train_accuracy": accuracy(answers, *problem.labelled),
        "labels_seen": int(len(problem.labels) + (len(problem.validation[1]) if saw_validation_labels else 0)),
        "trainable_parameters": int(sum(np.prod(weight.shape) for weight in model.trainable_weights)),
    }

"""The student of label propagation: a fresh encoder + head learns from every training image with its propagated label.

The labelled images keep their true labels, repeated so that they make up a third of each epoch, and every image is
mirrored and shifted at random. The network ends up below the propagated labels it learns from, and the two err
differently: its answer is averaged with the graph's own vote (:mod:`spread`). The graph and the labels come from
the `graph` and `labels` stages, which depend on the images and the labels alone; this is the only part of the
recipe that the encoder's start changes.
"""

from __future__ import annotations

import numpy as np

from pipeline.fewlabel.common import Problem, predict, voted_scores
from pipeline.fewlabel.propagation import Params
from pipeline.stats import accuracy


def training_set(
    pool: np.ndarray, targets: np.ndarray, rows: np.ndarray, labels: np.ndarray, labelled_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Every image with its target (propagated, or true where known), the labelled images repeated so that they
    make up about ``labelled_share`` of the set: the true labels are not drowned by the propagated ones."""
    repeats = max(1, round(labelled_share * len(pool) / ((1 - labelled_share) * len(rows))))
    return (
        np.concatenate([pool, np.repeat(pool[rows], repeats, axis=0)]),
        np.concatenate([targets, np.repeat(labels, repeats)]),
    )


def flip_shift(side: int, flip: bool, shift_pixels: int):
    """A batch augmentation for :func:`pipeline.training.fit`: each flat square image mirrored left-right with
    probability 1/2 (``flip``) and shifted by a whole number of pixels, up to ``shift_pixels`` each way, the
    uncovered border black; None when it would do nothing.

    Each image draws one of the precomputed pixel maps (offset x mirror), applied as one gather in the input
    pipeline, beside the compiled train step; a pure function of its stateless seed.
    """
    import tensorflow as tf

    if not flip and not shift_pixels:
        return None
    padded_side = side + 2 * shift_pixels
    pixels = np.arange(side)
    maps = [
        ((top + pixels)[:, None] * padded_side + (left + (pixels[::-1] if mirrored else pixels))[None, :]).ravel()
        for mirrored in ([False, True] if flip else [False])
        for top in range(2 * shift_pixels + 1)
        for left in range(2 * shift_pixels + 1)
    ]
    maps = tf.constant(np.stack(maps), tf.int32)

    def augment(images, seed):
        count = tf.shape(images)[0]
        padded = tf.pad(tf.reshape(images, (count, side, side)), [[0, 0], [shift_pixels] * 2, [shift_pixels] * 2])
        chosen = tf.random.stateless_uniform((count,), seed, 0, len(maps), dtype=tf.int32)
        return tf.gather(tf.reshape(padded, (count, -1)), tf.gather(maps, chosen), batch_dims=1)

    return augment


def fit_student(model, pool, targets, rows, labels, params: Params, twins=None, callbacks=None) -> None:
    """Train ``model`` on every ``pool`` image with its target (:func:`training_set`), mirrored and shifted where
    the images are square, for ``params.epochs``; ``callbacks`` act at each epoch's end (only the final weights are
    kept otherwise)."""
    from pipeline.training import fit

    side = int(round(pool.shape[1] ** 0.5))
    fit(
        model,
        *training_set(pool, targets, rows, labels, params.labelled_share),
        epochs=params.epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        loss="sparse_categorical_crossentropy",
        history=False,
        twins=twins,
        callbacks=callbacks,
        augment=flip_shift(side, params.flip, params.shift_pixels) if side * side == pool.shape[1] else None,
    )


def train(problem: Problem, params: Params, pretrained: bool) -> dict[str, float]:
    graph = problem.graph_labels("propagation")
    model = problem.classifier(pretrained, trainable_encoder=True)
    fit_student(
        model,
        problem.whole_pool(),  # every training image, each with its target
        graph.targets(problem.labelled_rows, problem.labels),
        problem.labelled_rows,
        problem.labels,
        params,
        twins=problem.twins,  # every draw of the stage trains this architecture
    )
    network_test, network_labelled = (
        predict(model, images, problem.twins) for images in (problem.test[0], problem.labelled[0])
    )
    metrics = voted_scores(model, problem, network_test, network_labelled, params.vote_weight)
    metrics["network_test_accuracy"] = accuracy(network_test, problem.test[1])
    return metrics

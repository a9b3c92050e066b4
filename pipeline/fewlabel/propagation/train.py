"""Label propagation on the encoder's codings, then the encoder + head trained on the propagated labels.

As in Iscen et al. (CVPR 2019), the encoder + head first learns from the labelled images alone, so that its
codings group images by class. A k-nearest-neighbour graph then joins every training image to those whose
codings are closest, and the labelled few spread over it by Poisson learning (Calder et al., ICML 2020: it
stays informative at very low label rates, where Laplace learning degenerates) or Laplace learning, both
from ``graphlearning``, the package of Poisson learning's authors, with class sizes kept at the labelled
images' class shares. A fresh encoder + head then learns from every training image with its propagated
label (the labelled images with their true labels, repeated so they make up a third of each epoch),
mirrored and shifted at random, so the final model is an ordinary network that classifies images it never
saw, test images included.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import ConfigError
from pipeline.fewlabel.common import Problem, scores
from pipeline.fewlabel.propagation import Params


def knn_graph(codings: np.ndarray, neighbours: int):
    """Sparse symmetric weights of the k-nearest-neighbour graph (a Gaussian kernel scaled by each point's k-th
    distance)."""
    import graphlearning
    from sklearn.neighbors import NearestNeighbors

    distances, indices = NearestNeighbors(n_neighbors=neighbours + 1).fit(codings).kneighbors(codings)
    return graphlearning.weightmatrix.knn(None, neighbours, knn_data=(indices, distances))


def propagate(graph, rows: np.ndarray, labels: np.ndarray, class_count: int, method: str = "poisson") -> np.ndarray:
    """A label for every node of ``graph`` from the known ``labels`` at ``rows``.

    Each connected part of the graph is solved on its own (the Poisson equation has no solution across parts),
    with class sizes kept at the shares of the labels it holds.
    """
    import graphlearning
    from scipy.sparse.csgraph import connected_components

    missing = sorted(set(range(class_count)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"propagate: classes {missing} have no labelled node; every class needs at least one")
    models = {"poisson": graphlearning.ssl.poisson, "laplace": graphlearning.ssl.laplace}
    if method not in models:
        raise ValueError(f"propagate: method got '{method}', must be one of {sorted(models)}")
    parts, part = connected_components(graph, directed=False)
    unlabelled = parts - len(np.unique(part[rows]))
    if unlabelled:  # labels cannot reach a part of the graph that holds none: its nodes would get noise
        raise ConfigError(
            f"classify.propagation.neighbours: the nearest-neighbour graph of the {graph.shape[0]} codings "
            f"falls apart into {parts} parts, {unlabelled} without any labelled image; raise neighbours"
        )
    predicted = np.empty(graph.shape[0], dtype=np.int64)
    for index in range(parts):
        nodes = np.flatnonzero(part == index)
        inside = part[rows] == index
        classes, local_labels = np.unique(labels[inside], return_inverse=True)
        if len(classes) == 1:
            predicted[nodes] = classes[0]
            continue
        model = models[method](graph[nodes][:, nodes], class_priors=np.bincount(local_labels) / len(local_labels))
        predicted[nodes] = classes[model.fit_predict(np.searchsorted(nodes, rows[inside]), local_labels)]
    return predicted


def training_set(
    pool: np.ndarray, propagated: np.ndarray, rows: np.ndarray, labels: np.ndarray, labelled_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Every image with its propagated label, true labels where known, the labelled images repeated so that
    they make up about ``labelled_share`` of the set: the true labels are not drowned by the propagated ones."""
    targets = propagated.copy()
    targets[rows] = labels
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


def train(problem: Problem, params: Params, pretrained: bool) -> dict[str, float]:
    import keras

    from pipeline.models.autoencoders import classifier
    from pipeline.training import fit

    def start():
        return classifier(
            problem.layers,
            problem.pool.shape[1],
            problem.class_count,
            encoder_weights=problem.weights if pretrained else None,
            trainable_encoder=True,
        )

    side = int(round(problem.pool.shape[1] ** 0.5))

    # 1. The labelled images alone shape the codings the graph is built on (Iscen et al., CVPR 2019).
    # (Mirroring and shifting them here too scored lower on the validation split.)
    warm = start()
    fit(
        warm,
        *problem.labelled,
        epochs=params.warmup_epochs,
        batch_size=params.warmup_batch_size,
        learning_rate=params.learning_rate,
        loss="sparse_categorical_crossentropy",
        history=False,  # only the final weights count
        reuse_compiled=True,  # every draw trains this architecture
    )
    top = warm.get_layer(f"{list(problem.layers)[-1]}_encoder")
    pool = problem.whole_pool()  # the graph links every training image: all of them at once
    codings = keras.Model(warm.inputs, top.output).predict(pool, batch_size=1024, verbose=0)
    # 2. Labels spread over the graph of every training image's codings.
    propagated = propagate(
        knn_graph(codings, params.neighbours), problem.labelled_rows, problem.labels, problem.class_count, params.method
    )
    # 3. A fresh encoder + head learns from them, the true labels kept where known.
    x, y = training_set(pool, propagated, problem.labelled_rows, problem.labels, params.labelled_share)
    model = start()
    augment = flip_shift(side, params.flip, params.shift_pixels) if side * side == x.shape[1] else None
    fit(
        model,
        x,
        y,
        epochs=params.epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        loss="sparse_categorical_crossentropy",
        history=False,  # only the final weights count
        reuse_compiled=True,  # every draw trains this architecture
        augment=augment,
    )
    metrics = scores(model, problem)
    if problem.pool_labels is not None:
        metrics["propagated_label_accuracy"] = float(np.mean(propagated == problem.pool_labels))
    return metrics

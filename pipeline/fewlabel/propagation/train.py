"""Label propagation over a graph of every training image, then the encoder + head trained on the propagated labels.

A k-nearest-neighbour graph joins every training image to those that look closest. By default closeness is
measured on single-layer k-means features (Coates, Lee & Ng, AISTATS 2011), learnt from the unlabelled images
alone: they respond to local strokes and edges wherever they sit in a region of the image, so images of one
class are closer than in pixels or in the stacked encoder's codings. With ``graph: codings`` the graph is built,
as in Iscen et al. (CVPR 2019), on the codings of an encoder + head first trained on the labelled images alone.
The labelled few spread over the graph by Laplace learning (Zhu et al., ICML 2003) or Poisson learning
(Calder et al., ICML 2020: it stays informative at very low label rates, where Laplace learning degenerates
on a poor graph), both from ``graphlearning``, the package of Poisson learning's authors, with class sizes kept
at the labelled images' class shares. On the patch graph, Laplace learning scored as well as Poisson learning
at 100 labels and better at 1,000 on the validation split. A fresh encoder + head then learns from every
training image with its propagated label (the labelled images with their true labels, repeated so they make up
a third of each epoch), mirrored and shifted at random. Its answer is averaged with the graph's own, carried to
new images by a vote of their nearest training images: the network ends up below the propagated labels it learns
from, and the two err differently. The final model is thus a network and the training images' features and
labels; it classifies images it never saw, test images included.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from pipeline.errors import ConfigError
from pipeline.fewlabel.common import Problem, accuracy, epochs_for_steps, network_answers, scores
from pipeline.fewlabel.propagation import Params, PatchParams

PATCH_SAMPLE_IMAGES = 4000  # images whose patches k-means learns from ...
PATCH_SAMPLES = 200_000  # ... and how many of their patches: more changes the centroids little and costs time
CONTRAST_FLOOR = 0.01  # added to a patch's pixel variance (pixels in [0, 1]): flat patches stay flat
WHITENING_FLOOR = 0.1  # added to the patch covariance's eigenvalues before whitening (Coates et al.'s value)


def fit_patch_features(
    images: np.ndarray, side: int, settings: PatchParams, seed: int
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Each square image's single-layer k-means features, PCA-whitened to ``settings.dims`` columns, and the map
    that gives any other images the same features.

    Patches are normalised for brightness and contrast and ZCA-whitened; k-means finds ``centroids`` of them.
    An image's feature for a centroid and region is its "triangle" activation (how much nearer than average
    that centroid is to each patch) summed over the region: robust to small shifts, which is what makes
    neighbours in this space share a class more often than neighbours in pixels. Only ``images`` are used:
    no labels: the map learns nothing from the test images it is later applied to. Deterministic for a ``seed``.
    """
    import tensorflow as tf
    from numpy.lib.stride_tricks import sliding_window_view
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import PCA

    size, count = settings.size, settings.centroids
    positions = side - size + 1
    if positions < settings.grid:
        raise ConfigError(
            f"classify.propagation.patches: {size}-pixel patches of {side}-pixel images leave {positions} positions "
            f"per row, fewer than grid {settings.grid}; lower size or grid"
        )
    if settings.dims > min(len(images), count * settings.grid**2):
        raise ConfigError(
            f"classify.propagation.patches.dims: got {settings.dims}, must be at most the "
            f"{min(len(images), count * settings.grid**2)} features and images there are"
        )
    rng = np.random.default_rng(seed)
    sampled = images[rng.choice(len(images), min(len(images), PATCH_SAMPLE_IMAGES), replace=False)]
    patches = sliding_window_view(sampled.reshape(-1, side, side), (size, size), axis=(1, 2)).reshape(-1, size * size)
    patches = patches[rng.choice(len(patches), min(len(patches), PATCH_SAMPLES), replace=False)]
    if count > len(patches):
        raise ConfigError(
            f"classify.propagation.patches.centroids: got {count}, must be at most the {len(patches)} patches there are"
        )
    patches = patches - patches.mean(axis=1, keepdims=True)
    patches = patches / np.sqrt(patches.var(axis=1, keepdims=True) + CONTRAST_FLOOR)
    mean = patches.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches - mean, rowvar=False))
    zca = eigenvectors @ np.diag(1 / np.sqrt(eigenvalues + WHITENING_FLOOR)) @ eigenvectors.T
    centroids = (
        MiniBatchKMeans(count, random_state=seed % 2**32, batch_size=4096, n_init=3)
        .fit((patches - mean) @ zca)
        .cluster_centers_
    )
    # One convolution gives every patch's whitened dot products with the centroids and its whitened coordinates
    # (for its norm), both as linear maps of the raw patch, corrected for the patch's mean and contrast.
    maps = np.concatenate([zca @ centroids.T, zca], axis=1).astype(np.float32)
    kernel = tf.constant(maps.reshape(size, size, 1, -1))
    kernel_sums, mean_terms = tf.constant(maps.sum(axis=0)), tf.constant((mean @ maps).astype(np.float32))
    centroid_norms = tf.constant((centroids**2).sum(axis=1).astype(np.float32))
    bounds = [(part[0], part[-1] + 1) for part in np.array_split(np.arange(positions), settings.grid)]

    @tf.function(jit_compile=True)
    def pooled_activations(batch):
        x = tf.reshape(batch, (-1, side, side, 1))
        local_mean = tf.nn.avg_pool2d(x, size, 1, "VALID")
        local_variance = tf.nn.relu(tf.nn.avg_pool2d(x * x, size, 1, "VALID") - local_mean**2)
        projections = (tf.nn.conv2d(x, kernel, 1, "VALID") - local_mean * kernel_sums) / tf.sqrt(
            local_variance + CONTRAST_FLOOR
        ) - mean_terms
        dots, whitened = projections[..., :count], projections[..., count:]
        squared = tf.reduce_sum(whitened**2, axis=-1, keepdims=True) - 2 * dots + centroid_norms
        distances = tf.sqrt(tf.nn.relu(squared))
        active = tf.nn.relu(tf.reduce_mean(distances, axis=-1, keepdims=True) - distances)
        return tf.concat(
            [
                tf.reduce_sum(active[:, top:bottom, left:right], axis=(1, 2))
                for top, bottom in bounds
                for left, right in bounds
            ],
            axis=-1,
        )

    def pooled(batch_of_images: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [
                pooled_activations(tf.constant(batch_of_images[start : start + 1000], tf.float32)).numpy()
                for start in range(0, len(batch_of_images), 1000)
            ]
        )

    features = pooled(images)
    centre, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    whitening = PCA(settings.dims, whiten=True, random_state=seed % 2**32).fit((features - centre) / scale)

    def featurise(new_images: np.ndarray) -> np.ndarray:
        return whitening.transform((pooled(new_images) - centre) / scale).astype(np.float32)

    return whitening.transform((features - centre) / scale).astype(np.float32), featurise


def remembered(answer: Callable[[np.ndarray], np.ndarray], entries: int = 2) -> Callable[[np.ndarray], np.ndarray]:
    """``answer`` that keeps its outputs for the last ``entries`` distinct inputs (by shape, type and content):
    every draw asks for the same test images' features, and the network's answers for them twice (blended and
    alone)."""
    kept: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def answer_once(images: np.ndarray) -> np.ndarray:
        key = (images.shape, images.dtype.str, hashlib.sha256(np.ascontiguousarray(images)).hexdigest())
        if key not in kept:
            kept[key] = answer(images)
            if len(kept) > entries:
                kept.popitem(last=False)
        kept.move_to_end(key)
        return kept[key]

    return answer_once


class Graph(NamedTuple):
    """The kNN graph of every training image, the features it measured closeness on, and the map that gives
    other images those features (so that new images can find their nearest training images)."""

    weights: object  # scipy sparse, symmetric
    features: np.ndarray
    featurise: Callable[[np.ndarray], np.ndarray]


_PATCH_GRAPHS: dict[tuple, Graph] = {}  # every draw of a stage shares its pool, and so its patch graph


def patch_graph(images: np.ndarray, side: int, params: Params, seed: int) -> Graph:
    """The kNN graph of the images' patch features, built once per process for a pool, its settings and seed."""
    key = (hashlib.sha256(np.ascontiguousarray(images)).hexdigest(), side, params.patches, params.neighbours, seed)
    if key not in _PATCH_GRAPHS:
        _PATCH_GRAPHS.clear()  # one pool at a time: a graph of 60,000 images holds about 10 MB
        features, featurise = fit_patch_features(images, side, params.patches, seed)
        # the test images and one draw's labelled images are featurised for each draw's vote
        _PATCH_GRAPHS[key] = Graph(knn_graph(features, params.neighbours), features, remembered(featurise))
    return _PATCH_GRAPHS[key]


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
            f"classify.propagation.neighbours: the nearest-neighbour graph of the {graph.shape[0]} images "
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


def neighbour_vote(
    graph: Graph, targets: np.ndarray, class_count: int, neighbours: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Class probabilities for new images: the shares of the ``targets`` (a label for every training image) among
    each image's ``neighbours`` nearest training images in the graph's features.

    The graph's own answer carried to images that were not in it (as in Delalleau, Bengio & Le Roux, AISTATS
    2005, with equal weights): it keeps what the network trained on the propagated labels loses of them.
    """
    from sklearn.neighbors import KNeighborsClassifier

    nearest = KNeighborsClassifier(neighbours).fit(graph.features, targets)

    def vote(images: np.ndarray) -> np.ndarray:
        shares = np.zeros((len(images), class_count), np.float32)
        shares[:, nearest.classes_] = nearest.predict_proba(graph.featurise(images))
        return shares

    return vote


def blend(network: Callable, vote: Callable, vote_weight: float) -> Callable[[np.ndarray], np.ndarray]:
    """Class probabilities: the ``vote_weight`` share of the vote's, the rest the network's."""
    return lambda images: (1 - vote_weight) * network(images) + vote_weight * vote(images)


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

    def learn(model, x, y, epochs: int, batch_size: int, augment=None) -> None:
        fit(
            model,
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=params.learning_rate,
            loss="sparse_categorical_crossentropy",
            history=False,  # only the final weights count
            reuse_compiled=True,  # every draw trains this architecture
            augment=augment,
        )

    side = int(round(problem.pool.shape[1] ** 0.5))
    square = side * side == problem.pool.shape[1]
    pool = problem.whole_pool()  # the graph links every training image: all of them at once

    # 1. The graph: of the images' patch features, or of the codings the labelled images alone shaped.
    if params.graph == "patches":
        if not square:
            raise ConfigError(
                f"classify.propagation.graph: patches needs square images, got {problem.pool.shape[1]} pixels; "
                "use codings"
            )
        graph = patch_graph(pool, side, params, problem.pool_seed)
    else:
        # (Mirroring and shifting the labelled images here too scored lower on the validation split.)
        warm = start()
        epochs = epochs_for_steps(params.warmup_steps, len(problem.labels), params.warmup_batch_size)
        learn(warm, *problem.labelled, epochs, params.warmup_batch_size)
        encoder = keras.Model(warm.inputs, warm.get_layer(f"{list(problem.layers)[-1]}_encoder").output)

        def encode(images: np.ndarray) -> np.ndarray:
            return encoder.predict(images, batch_size=1024, verbose=0)

        codings = encode(pool)
        graph = Graph(knn_graph(codings, params.neighbours), codings, encode)
    # 2. Labels spread over it; the true ones kept where known.
    propagated = propagate(graph.weights, problem.labelled_rows, problem.labels, problem.class_count, params.method)
    targets = propagated.copy()
    targets[problem.labelled_rows] = problem.labels
    # 3. A fresh encoder + head learns from them.
    model = start()
    augment = flip_shift(side, params.flip, params.shift_pixels) if square else None
    learn(
        model,
        *training_set(pool, targets, problem.labelled_rows, problem.labels, params.labelled_share),
        params.epochs,
        params.batch_size,
        augment,
    )
    # 4. Its answer, averaged with the vote of each image's nearest training images (a labelled image's
    # nearest is itself: its training accuracy counts its own vote).
    network = remembered(network_answers(model))
    answers = None  # the network's alone
    if params.vote_weight:
        answers = blend(
            network, neighbour_vote(graph, targets, problem.class_count, params.neighbours), params.vote_weight
        )
    metrics = scores(model, problem, answers=answers)
    metrics["network_test_accuracy"] = accuracy(network, *problem.test)
    if problem.pool_labels is not None:
        metrics["propagated_label_accuracy"] = float(np.mean(propagated == problem.pool_labels))
    return metrics

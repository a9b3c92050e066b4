"""The labelled few spread over the graph to every training image, and carried to new images by a vote.

Laplace learning (Zhu et al., ICML 2003) or Poisson learning (Calder et al., ICML 2020: it stays informative at very
low label rates, where Laplace learning degenerates on a poor graph), both from ``graphlearning``, the package of
Poisson learning's authors, with class sizes kept at the labelled images' class shares.
"""

from __future__ import annotations

import functools

import numpy as np

from pipeline.errors import ConfigError
from pipeline.fewlabel.labels import GraphLabels
from pipeline.fewlabel.processes import gathered, map_in_processes, split_evenly
from pipeline.fewlabel.propagation.graph import Neighbours


def graph_labels(
    neighbours: Neighbours, weights, rows: np.ndarray, labels: np.ndarray, class_count: int, method: str, count: int
) -> GraphLabels:
    """One draw's labels spread over the graph, and the vote of ``count`` nearest training images on them."""
    propagated = propagate(weights, rows, labels, class_count, method)
    targets = propagated.copy()
    targets[rows] = labels
    return GraphLabels(
        propagated,
        vote(neighbours.test_indices[:, :count], targets, class_count),
        vote(neighbours.indices[rows, :count], targets, class_count),  # a labelled image's nearest is itself
    )


def spread_draws(
    neighbours: Neighbours,
    weights,
    draws: list[tuple[np.ndarray, np.ndarray]],
    class_count: int,
    method: str,
    count: int,
    processes: int = 1,
) -> list[GraphLabels]:
    """:func:`graph_labels` of every labelled draw (rows, labels), in order, spread in ``processes`` processes at
    once (:func:`~pipeline.fewlabel.processes.map_in_processes`): each draw's solve is a long single-threaded
    sparse iteration. BLAS runs on one thread wherever a draw is spread, so the labels do not depend on
    ``processes``."""
    share = functools.partial(_spread_share, neighbours, weights, class_count, method, count)
    return gathered(map_in_processes(share, split_evenly(draws, processes), processes))


def _spread_share(neighbours, weights, class_count: int, method: str, count: int, draws) -> list[GraphLabels]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return [graph_labels(neighbours, weights, rows, labels, class_count, method, count) for rows, labels in draws]


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


def vote(nearest: np.ndarray, targets: np.ndarray, class_count: int) -> np.ndarray:
    """Class shares among each image's ``nearest`` training images (rows of indices): the graph's own answer carried
    to images that were not in it (Delalleau, Bengio & Le Roux, AISTATS 2005, with equal weights). It keeps what
    the network trained on the propagated labels loses of them."""
    return np.eye(class_count)[targets[nearest]].mean(axis=1).astype(np.float32)

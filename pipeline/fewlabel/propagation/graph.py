"""The nearest-neighbour graph of every training image, measured on their patch features.

It depends on the images alone (no label, no encoder): the `graph` stage builds it once per dataset, each budget's
`labels` stage spreads its draws' labels over it, and the test images find their nearest training images in it
for the vote.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pipeline.errors import ConfigError
from pipeline.fewlabel.propagation import Params
from pipeline.fewlabel.propagation.patches import fit_patch_features


class Neighbours(NamedTuple):
    indices: np.ndarray  # each training image's neighbours + 1 nearest training images, itself first
    distances: np.ndarray  # their distances in the patch features
    test_indices: np.ndarray  # each test image's ``neighbours`` nearest training images


def build(pool: np.ndarray, test: np.ndarray, params: Params, seed: int) -> Neighbours:
    """The graph of the ``pool`` images and the test images' place in it, deterministic for a ``seed``."""
    side = int(round(pool.shape[1] ** 0.5))
    if side * side != pool.shape[1]:
        raise ConfigError(
            f"classify.propagation: the patch graph needs square images, got {pool.shape[1]} pixels; "
            "remove propagation from classify.recipes"
        )
    features, featurise = fit_patch_features(pool, side, params.patches, seed)
    return connect(features, featurise(test), params.neighbours)


def connect(features: np.ndarray, new_features: np.ndarray, count: int) -> Neighbours:
    """Each point's ``count`` nearest points (and itself), and each new point's ``count`` nearest points."""
    from sklearn.neighbors import NearestNeighbors

    nearest = NearestNeighbors(n_neighbors=count + 1).fit(features)
    distances, indices = nearest.kneighbors(features)
    return Neighbours(indices, distances, nearest.kneighbors(new_features, n_neighbors=count, return_distance=False))


def weights(neighbours: Neighbours, count: int):
    """Sparse symmetric weights of the ``count``-nearest-neighbour graph (a Gaussian kernel scaled by each image's
    ``count``-th distance)."""
    import graphlearning

    return graphlearning.weightmatrix.knn(None, count, knn_data=(neighbours.indices, neighbours.distances))

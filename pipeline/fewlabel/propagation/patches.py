"""Single-layer k-means features of image patches (Coates, Lee & Ng, AISTATS 2011), learnt from unlabelled images.

They respond to local strokes and edges wherever they sit in a region of the image, so images of one class are
closer in them than in pixels or in the stacked encoder's codings: what the propagation graph measures closeness on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.errors import ConfigError
from pipeline.fewlabel.propagation import PatchParams

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
    from sklearn.decomposition import PCA

    check_patch_settings(len(images), side, settings)
    pooled = pooled_activations(*learn_centroids(images, side, settings, seed), side, settings)
    features = pooled(images)
    centre, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    whitening = PCA(settings.dims, whiten=True, random_state=seed % 2**32).fit((features - centre) / scale)

    def featurise(new_images: np.ndarray) -> np.ndarray:
        return whitening.transform((pooled(new_images) - centre) / scale).astype(np.float32)

    return whitening.transform((features - centre) / scale).astype(np.float32), featurise


def check_patch_settings(image_count: int, side: int, settings: PatchParams) -> None:
    size, count = settings.size, settings.centroids
    positions = side - size + 1
    if positions < settings.grid:
        raise ConfigError(
            f"classify.propagation.patches: {size}-pixel patches of {side}-pixel images leave {positions} positions "
            f"per row, fewer than grid {settings.grid}; lower size or grid"
        )
    if settings.dims > min(image_count, count * settings.grid**2):
        raise ConfigError(
            f"classify.propagation.patches.dims: got {settings.dims}, must be at most the "
            f"{min(image_count, count * settings.grid**2)} features and images there are"
        )


def learn_centroids(images: np.ndarray, side: int, settings: PatchParams, seed: int):
    """K-means centroids of brightness- and contrast-normalised, ZCA-whitened patches sampled from ``images``;
    (centroids, patch mean, ZCA matrix)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from sklearn.cluster import MiniBatchKMeans

    size, count = settings.size, settings.centroids
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
    return centroids, mean, zca


def pooled_activations(centroids: np.ndarray, mean: np.ndarray, zca: np.ndarray, side: int, settings: PatchParams):
    """The map from images to their triangle activations summed over grid x grid regions, in batches of 1,000."""
    import tensorflow as tf

    size, count = settings.size, settings.centroids
    positions = side - size + 1
    # One convolution gives every patch's whitened dot products with the centroids and its whitened coordinates
    # (for its norm), both as linear maps of the raw patch, corrected for the patch's mean and contrast.
    maps = np.concatenate([zca @ centroids.T, zca], axis=1).astype(np.float32)
    kernel = tf.constant(maps.reshape(size, size, 1, -1))
    kernel_sums, mean_terms = tf.constant(maps.sum(axis=0)), tf.constant((mean @ maps).astype(np.float32))
    centroid_norms = tf.constant((centroids**2).sum(axis=1).astype(np.float32))
    bounds = [(part[0], part[-1] + 1) for part in np.array_split(np.arange(positions), settings.grid)]

    @tf.function(jit_compile=True)
    def activations(batch):
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
                activations(tf.constant(batch_of_images[start : start + 1000], tf.float32)).numpy()
                for start in range(0, len(batch_of_images), 1000)
            ]
        )

    return pooled

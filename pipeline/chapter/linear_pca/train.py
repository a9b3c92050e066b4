"""A linear autoencoder trained with MSE finds PCA's subspace: compare the two on 3-D points and on images."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA, IncrementalPCA

from pipeline.chapter.common import TechniqueResult, train
from pipeline.chapter.linear_pca import Params
from pipeline.runtime.shards import Sharded
from pipeline.schema import TrainingParams
from pipeline.training import mean_squared_error


def three_d_cloud(count: int, seed: int) -> np.ndarray:
    """The book's 3-D points near a tilted plane (a bent ribbon), centred: made for a 2-D projection."""
    rng = np.random.default_rng(seed)
    angles = (rng.random(count) ** 3 + 0.5) * 2 * np.pi
    points = np.empty((count, 3))
    points[:, 0] = np.cos(angles) + np.sin(angles) / 2 + 0.1 * rng.standard_normal(count) / 2
    points[:, 1] = np.sin(angles) * 0.7 + 0.1 * rng.standard_normal(count) / 2
    points[:, 2] = points[:, 0] * 0.1 + points[:, 1] * 0.3 + 0.1 * rng.standard_normal(count)
    return (points - points.mean(axis=0)).astype(np.float32)


def linear_autoencoder(input_dim: int, codings: int):
    from pipeline.models.autoencoders import LayerwiseAutoencoder

    spec = {"name": "linear", "units": codings, "activation": "linear", "output_activation": "linear", "tied": False}
    return LayerwiseAutoencoder(input_dim, [spec], name="linear_autoencoder")


def principal_components(train_data: np.ndarray | Sharded, codings: int):
    """PCA of the training data; of a stream, scikit-learn's incremental PCA fed a shard or so at a time (in the
    memory of a few shards; it keeps the leading components after each step, so it approximates PCA's optimum
    from above)."""
    if not isinstance(train_data, Sharded):
        return PCA(codings, svd_solver="full").fit(train_data)
    pca = IncrementalPCA(codings)
    for rows in at_least(train_data.chunks(), codings):
        pca.partial_fit(rows)
    return pca


def at_least(chunks, count: int):
    """Consecutive chunks joined so that each piece has at least ``count`` rows (a short tail joins the piece
    before it): an incremental PCA step needs as many rows as components."""
    held, pending = None, []
    for chunk in chunks:
        pending.append(chunk)
        if sum(map(len, pending)) >= count:
            if held is not None:
                yield held
            held, pending = np.concatenate(pending), []
    if pending or held is not None:
        yield np.concatenate([part for part in (held, *pending) if part is not None])


def pca_error(pca, data: np.ndarray | Sharded) -> float:
    """PCA's reconstruction MSE, in float64; of a stream, shard by shard."""
    if not isinstance(data, Sharded):
        return float(np.mean(np.square(pca.inverse_transform(pca.transform(data)) - data), dtype=np.float64))
    total = sum(
        np.sum(np.square(pca.inverse_transform(pca.transform(chunk)) - chunk), dtype=np.float64)
        for chunk in data.chunks()
    )
    return float(total / (data.rows * int(np.prod(data.row_shape))))


def against_pca(
    model, train_data: np.ndarray | Sharded, test_data: np.ndarray | None, codings: int
) -> dict[str, float]:
    """Reconstruction MSE of both (PCA's is the optimum on the training data) and the largest principal angle
    between the autoencoder's decoding subspace and PCA's, in degrees."""
    pca = principal_components(train_data, codings)
    metrics = {}
    for subset, data in (("train", train_data), ("test", test_data)):
        if data is None:
            continue
        pca_mse = pca_error(pca, data)
        autoencoder_mse = mean_squared_error(model, data)
        metrics.update(
            {
                f"{subset}_pca_mse": pca_mse,
                f"{subset}_autoencoder_mse": autoencoder_mse,
                f"{subset}_mse_ratio": autoencoder_mse / pca_mse,
            }
        )
    decoder_kernel = model.decoder_layer(
        "linear"
    ).kernel.numpy()  # (codings, inputs): its rows span the reconstructions
    angles = subspace_angles(decoder_kernel.T.astype(np.float64), pca.components_.T.astype(np.float64))
    metrics["max_principal_angle_degrees"] = float(np.degrees(angles.max()))
    return metrics


def run(params: Params, pixels: Mapping[str, np.ndarray], seed: int) -> TechniqueResult:
    points = three_d_cloud(params.synthetic_points, seed)
    small = linear_autoencoder(3, 2)
    synthetic_training = TrainingParams(
        epochs=params.synthetic_epochs, batch_size=32, learning_rate=params.synthetic_learning_rate
    )
    train(small, points, synthetic_training)
    synthetic = against_pca(small, points, None, 2)
    pca_codings = PCA(2, svd_solver="full").fit_transform(points)

    images = linear_autoencoder(pixels["train"].shape[1], params.codings)
    history = train(images, pixels["train"], params, validation=pixels["valid"])
    image_metrics = against_pca(images, pixels["train"], pixels["test"], params.codings)
    metrics = {
        **{f"synthetic_{key}": value for key, value in synthetic.items()},
        **{f"images_{key}": value for key, value in image_metrics.items()},
        "codings": params.codings,
    }
    arrays = {
        "points": points,
        "autoencoder_codings": small.encoder().predict(points, verbose=0),
        "pca_codings": pca_codings,
    }
    return TechniqueResult(metrics, arrays, {"linear autoencoder": history})

"""The linear autoencoder against PCA: the error ratio and subspace angle, and the book's 3-D figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def table(metrics: dict, params, chapter: dict) -> pd.DataFrame:
    rows = []
    for data, prefix, angle in (
        ("3-D points, k=2", "synthetic_train", "synthetic"),
        (f"images (training), k={metrics['codings']}", "images_train", "images"),
        (f"images (test), k={metrics['codings']}", "images_test", None),
    ):
        rows.append(
            {
                "data": data,
                "autoencoder MSE": metrics[f"{prefix}_autoencoder_mse"],
                "PCA MSE": metrics[f"{prefix}_pca_mse"],
                "ratio": metrics[f"{prefix}_mse_ratio"],
                "largest angle (deg)": f"{metrics[f'{angle}_max_principal_angle_degrees']:.2f}"
                if angle
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def figure(arrays, metrics, history) -> plt.Figure:
    """The 3-D points, the linear autoencoder's 2-D codings, and PCA's projection."""
    drawn = plt.figure(figsize=(10, 3.4))
    points = arrays["points"]
    ax = drawn.add_subplot(1, 3, 1, projection="3d")
    ax.scatter(points[:, 0], points[:, 1], points[:, 2], s=4, c=points[:, 0], cmap="viridis")
    ax.set_title("3-D training points", fontsize=9)
    for index, (key, title) in enumerate(
        (("autoencoder_codings", "linear autoencoder codings"), ("pca_codings", "PCA projection")), start=2
    ):
        ax = drawn.add_subplot(1, 3, index)
        ax.scatter(arrays[key][:, 0], arrays[key][:, 1], s=4, c=points[:, 0], cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
    drawn.tight_layout()
    return drawn

"""The variational autoencoder: its errors, images decoded from random codings and a latent walk."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def table(metrics: dict, params, chapter: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [{"codings": metrics["codings"], "validation MSE": metrics["valid_mse"], "test MSE": metrics["test_mse"]}]
    )


def figure(arrays, metrics, history) -> plt.Figure:
    generated, walk = arrays["generated"], arrays["walk"]
    columns = len(walk) + 2
    grid_rows = -(-len(generated) // columns)
    side = int(round(generated.shape[1] ** 0.5))
    drawn, axes = plt.subplots(grid_rows + 1, columns, figsize=(columns * 0.9, (grid_rows + 1) * 1.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, image in enumerate(generated):
        axes[index // columns][index % columns].imshow(image.reshape(side, side), cmap="binary")
    walk_row = axes[grid_rows]
    for ax, image in zip(walk_row, [arrays["walk_ends"][0], *walk, arrays["walk_ends"][1]]):
        ax.imshow(image.reshape(side, side), cmap="binary")
    axes[0][0].set_title("decoded from random codings", fontsize=7, loc="left")
    walk_row[0].set_title("latent walk between two test images", fontsize=7, loc="left")
    drawn.tight_layout()
    return drawn

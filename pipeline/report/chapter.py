"""One figure per technique of the chapter, drawn from the arrays, metrics and learning curves its stage wrote."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pipeline.report.figures import image_rows

Arrays = Mapping[str, np.ndarray]


def linear_pca(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    """The book's figure: the 3-D points, the linear autoencoder's 2-D codings, and PCA's projection."""
    figure = plt.figure(figsize=(10, 3.4))
    points = arrays["points"]
    ax = figure.add_subplot(1, 3, 1, projection="3d")
    ax.scatter(points[:, 0], points[:, 1], points[:, 2], s=4, c=points[:, 0], cmap="viridis")
    ax.set_title("3-D training points", fontsize=9)
    for index, (key, title) in enumerate((("autoencoder_codings", "linear autoencoder codings"),
                                          ("pca_codings", "PCA projection")), start=2):
        ax = figure.add_subplot(1, 3, index)
        ax.scatter(arrays[key][:, 0], arrays[key][:, 1], s=4, c=points[:, 0], cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def curves(history: pd.DataFrame, title: str) -> plt.Figure:
    """Validation MSE per epoch of each model the technique trained (training MSE dashed)."""
    figure, ax = plt.subplots(figsize=(6, 3.4))
    for model, rows in history.groupby("model", sort=False):
        line, = ax.plot(rows["epoch"], rows["val_loss"], "-", label=f"{model} validation")
        ax.plot(rows["epoch"], rows["loss"], "--", color=line.get_color(), alpha=0.6, label=f"{model} training")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (log scale)")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def tied(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    return curves(history, f"untied ({metrics['untied_parameters']:,} parameters) against tied "
                           f"({metrics['tied_parameters']:,})")


def phases(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    rows = {method.replace("_", " "): arrays[method] for method in ("separate_graphs", "phases_no_cache", "phases_cache", "joint")}
    return image_rows(arrays["originals"], rows)


def denoising(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    rows = {}
    for name in ("gaussian", "dropout", "overcomplete"):
        rows[f"{name}: corrupted"] = arrays[f"{name}_corrupted"]
        rows[f"{name}: denoised"] = arrays[f"{name}_denoised"]
    return image_rows(arrays["originals"], rows)


def sparsity(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    """Histogram of each coding unit's mean activation on the test images (the book's figure)."""
    names = [name for name in ("plain", "l1", "kl") if f"{name}_unit_means" in arrays]
    figure, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.hist(arrays[f"{name}_unit_means"], bins=np.linspace(0, 1, 21), color="#4a7ab0")
        ax.axvline(metrics["kl_target"], color="k", linestyle=":", linewidth=1)
        ax.set_title(f"{name}: mean {metrics[f'{name}_mean_activation']:.3f}", fontsize=9)
        ax.set_xlabel("mean activation of a unit")
    axes[0][0].set_ylabel("coding units")
    figure.tight_layout()
    return figure


def features(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    """Per top-layer neuron: the weights of the first-layer unit that feeds it most, its top training images,
    its gradient-ascent image."""
    count, top = arrays["top_images"].shape[:2]
    side = int(round(arrays["maximized"].shape[1] ** 0.5))
    figure, axes = plt.subplots(count, top + 2, figsize=((top + 2) * 0.95, count * 1.0), squeeze=False)
    for row, neuron in enumerate(arrays["neurons"]):
        weights = arrays["first_layer_weights"][row]
        limit = np.abs(weights).max() or 1.0
        axes[row][0].imshow(weights.reshape(side, side), cmap="RdBu", vmin=-limit, vmax=limit)
        for column in range(top):
            axes[row][column + 1].imshow(arrays["top_images"][row, column].reshape(side, side), cmap="binary")
        axes[row][top + 1].imshow(arrays["maximized"][row].reshape(side, side), cmap="binary")
        axes[row][1].set_title(f"neuron {neuron}", fontsize=7, loc="left")
        for ax in axes[row]:
            ax.axis("off")
    axes[0][0].set_title("first layer", fontsize=7)
    axes[0][top + 1].set_title("ascent", fontsize=7)
    figure.tight_layout()
    return figure


def vae(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    """Images decoded from random codings, then a walk between two test images' codings."""
    generated, walk = arrays["generated"], arrays["walk"]
    columns = len(walk) + 2
    grid_rows = -(-len(generated) // columns)
    side = int(round(generated.shape[1] ** 0.5))
    figure, axes = plt.subplots(grid_rows + 1, columns, figsize=(columns * 0.9, (grid_rows + 1) * 1.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, image in enumerate(generated):
        axes[index // columns][index % columns].imshow(image.reshape(side, side), cmap="binary")
    walk_row = axes[grid_rows]
    for ax, image in zip(walk_row, [arrays["walk_ends"][0], *walk, arrays["walk_ends"][1]]):
        ax.imshow(image.reshape(side, side), cmap="binary")
    axes[0][0].set_title("decoded from random codings", fontsize=7, loc="left")
    walk_row[0].set_title("latent walk between two test images", fontsize=7, loc="left")
    figure.tight_layout()
    return figure


def conv(arrays: Arrays, metrics: Mapping, history: pd.DataFrame) -> plt.Figure:
    return image_rows(arrays["originals"], {"convolutional": arrays["reconstructions"]})


FIGURES = {"linear_pca": linear_pca, "tied": tied, "phases": phases, "denoising": denoising, "sparsity": sparsity,
           "features": features, "vae": vae, "conv": conv}

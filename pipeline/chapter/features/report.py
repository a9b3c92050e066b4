"""What the layers learned: the neurons' pictures, and how far the gradient ascent excited them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def table(metrics: dict, params, chapter: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"image": "random noise, before the ascent", "mean activation": metrics["ascent_start_activation"]},
            {"image": "after the ascent", "mean activation": metrics["ascent_end_activation"]},
            {"image": "top training image", "mean activation": metrics["top_image_activation"]},
        ]
    )


def figure(arrays, metrics, history) -> plt.Figure:
    """Per top-layer neuron: the weights of the first-layer unit that feeds it most, its top training images,
    its gradient-ascent image."""
    count, top = arrays["top_images"].shape[:2]
    side = int(round(arrays["maximized"].shape[1] ** 0.5))
    drawn, axes = plt.subplots(count, top + 2, figsize=((top + 2) * 0.95, count * 1.0), squeeze=False)
    for row, neuron in enumerate(arrays["neurons"]):
        weights = arrays["first_layer_weights"][row]
        limit = np.abs(weights).max() or 1.0
        filter_side = int(round(weights.size**0.5))  # a conv first layer: its filter, not the image
        axes[row][0].imshow(weights.reshape(filter_side, filter_side), cmap="RdBu", vmin=-limit, vmax=limit)
        for column in range(top):
            axes[row][column + 1].imshow(arrays["top_images"][row, column].reshape(side, side), cmap="binary")
        axes[row][top + 1].imshow(arrays["maximized"][row].reshape(side, side), cmap="binary")
        axes[row][1].set_title(f"neuron {neuron}", fontsize=7, loc="left")
        for ax in axes[row]:
            ax.axis("off")
    axes[0][0].set_title("first layer", fontsize=7)
    axes[0][top + 1].set_title("ascent", fontsize=7)
    drawn.tight_layout()
    return drawn

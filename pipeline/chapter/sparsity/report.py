"""No penalty, L1 and KL: activations and errors, and the book's histogram of the units' mean activations."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from pipeline.report.tables import model_rows

PENALTIES = {"plain": "no penalty", "l1": "L1", "kl": "KL divergence"}


def table(metrics: dict, params, chapter: dict):
    return model_rows(
        metrics,
        PENALTIES,
        {
            "mean_activation": "mean activation",
            "active_share": "share > 0.5",
            "valid_mse": "validation MSE",
            "test_mse": "test MSE",
        },
    )


def figure(arrays, metrics, history) -> plt.Figure:
    names = [name for name in PENALTIES if f"{name}_unit_means" in arrays]
    drawn, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.hist(arrays[f"{name}_unit_means"], bins=np.linspace(0, 1, 21), color="#4a7ab0")
        ax.axvline(metrics["kl_target"], color="k", linestyle=":", linewidth=1)
        ax.set_title(f"{name}: mean {metrics[f'{name}_mean_activation']:.3f}", fontsize=9)
        ax.set_xlabel("mean activation of a unit")
    axes[0][0].set_ylabel("coding units")
    drawn.tight_layout()
    return drawn

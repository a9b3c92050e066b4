"""The chapter's figures, drawn from this run's arrays and tables (matplotlib, no TensorFlow)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

RECIPE_STYLES = {
    "supervised": "o--",
    "frozen": "s-.",
    "autoencoder": "^-",
    "propagation": "D-",
    "logistic_regression": "x:",
}


def _image(ax, image: np.ndarray, side: int) -> None:
    ax.imshow(image.reshape(side, -1), cmap="binary")
    ax.axis("off")


def sample_grid(images: np.ndarray, labels: np.ndarray, class_names: list[str], per_class: int = 6) -> plt.Figure:
    """The first few training images of each class: what the data looks like."""
    figure, axes = plt.subplots(
        len(class_names), per_class, figsize=(per_class * 0.9, len(class_names) * 0.95), squeeze=False
    )
    for label, row in enumerate(axes):
        members = np.flatnonzero(labels == label)[:per_class]
        for ax, index in zip(row, members):
            _image(ax, images[index], images.shape[1])
        for ax in row[len(members) :]:
            ax.axis("off")
        row[0].set_title(class_names[label], fontsize=7, loc="left")
    figure.tight_layout()
    return figure


def image_rows(originals: np.ndarray, rows: dict[str, np.ndarray]) -> plt.Figure:
    """Test images on top, each model's reconstructions (or other images of the same shape) below them."""
    side = int(round(originals.shape[1] ** 0.5))
    count = len(originals)
    figure, axes = plt.subplots(1 + len(rows), count, figsize=(count * 0.9, (1 + len(rows)) * 1.05), squeeze=False)
    for ax, image in zip(axes[0], originals):
        _image(ax, image, side)
    axes[0][0].set_title("test images", fontsize=8, loc="left")
    for row_axes, (title, images) in zip(axes[1:], rows.items()):
        for ax, image in zip(row_axes, images):
            _image(ax, image, side)
        row_axes[0].set_title(title, fontsize=8, loc="left")
    figure.tight_layout()
    return figure


def stack_reconstructions(
    test_images: np.ndarray, saved: dict[str, np.ndarray], finetuned: bool, count: int
) -> plt.Figure:
    """The stack's reconstructions of the first test images, greedy only and (if run) after fine-tuning."""
    rows = {"stacked, greedy only": saved["before"][:count]}
    if finetuned:
        rows["after fine-tuning"] = saved["after"][:count]
    return image_rows(test_images[:count], rows)


def learning_curves(
    histories: dict[str, pd.DataFrame], columns: tuple[str, ...] = ("loss", "val_loss"), ylabel: str = "MSE"
) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(6, 3.6))
    for name, history in histories.items():
        for column in columns:
            if column in history and len(history):
                ax.plot(
                    history["epoch"],
                    history[column],
                    "-" if column.startswith("val") else "--",
                    label=f"{name} {column.replace('val_', 'validation ')}",
                )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{ylabel} (log scale)")
    ax.set_yscale("log")  # layers reconstruct inputs of very different scales
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def curves(history: pd.DataFrame, title: str) -> plt.Figure:
    """Validation MSE per epoch of each model in a long history table (model, epoch, loss, val_loss)."""
    figure, ax = plt.subplots(figsize=(6, 3.4))
    for model, rows in history.groupby("model", sort=False):
        (line,) = ax.plot(rows["epoch"], rows["val_loss"], "-", label=f"{model} validation")
        ax.plot(rows["epoch"], rows["loss"], "--", color=line.get_color(), alpha=0.6, label=f"{model} training")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (log scale)")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def accuracy_vs_labels(means: pd.DataFrame, spreads: pd.DataFrame | None = None) -> plt.Figure:
    """One line per method: mean test accuracy against the number of labels, one-sd error bars."""
    figure, ax = plt.subplots(figsize=(7, 4.4))
    for index, method in enumerate(means.columns):
        recipe = method.removesuffix("_random")
        errors = None if spreads is None else spreads[method].fillna(0).to_numpy()
        ax.errorbar(
            means.index,
            means[method],
            yerr=errors,
            fmt=RECIPE_STYLES.get(recipe, "o-"),
            capsize=3,
            color=f"C{index}",
            alpha=0.55 if method.endswith("_random") else 1.0,
            label=method.replace("_", " ").replace(" random", " (random start)"),
        )
    ax.set_xscale("log")
    ax.set_xticks(means.index, [str(budget) for budget in means.index])
    ax.set_xlabel("labelled training images")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    return figure


def png_bytes(figure: plt.Figure) -> bytes:
    """PNG without a software stamp, so the same figure gives the same bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()

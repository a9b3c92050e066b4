"""Small generated image datasets with learnable class structure, for tests and quick demos."""

from __future__ import annotations

import numpy as np


def class_templates(class_count: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """One smooth random pattern per class (sums of Gaussian blobs), in [0, 1]."""
    grid = np.mgrid[0:side, 0:side].astype(np.float64)
    templates = np.zeros((class_count, side, side))
    for label in range(class_count):
        for _ in range(3):
            centre = rng.uniform(side * 0.2, side * 0.8, size=2)
            width = rng.uniform(side * 0.08, side * 0.2)
            templates[label] += np.exp(-((grid[0] - centre[0]) ** 2 + (grid[1] - centre[1]) ** 2) / (2 * width**2))
    return templates / templates.max(axis=(1, 2), keepdims=True)


def make_dataset(
    train_count: int, test_count: int, class_count: int = 10, side: int = 28, seed: int = 0
) -> dict[str, np.ndarray]:
    """uint8 images of noisy, shifted class templates, with balanced labels."""
    rng = np.random.default_rng(seed)
    templates = class_templates(class_count, side, rng)
    arrays = {}
    for part, count in (("train", train_count), ("test", test_count)):
        labels = np.arange(count) % class_count
        rng.shuffle(labels)
        shifts = rng.integers(-2, 3, size=(count, 2))
        images = np.stack(
            [np.roll(templates[label], tuple(shift), axis=(0, 1)) for label, shift in zip(labels, shifts)]
        )
        images = np.clip(images * rng.uniform(0.7, 1.0, size=(count, 1, 1)) + rng.normal(0, 0.08, images.shape), 0, 1)
        arrays[f"{part}_images"] = np.round(images * 255).astype(np.uint8)
        arrays[f"{part}_labels"] = labels.astype(np.uint8)
    return arrays

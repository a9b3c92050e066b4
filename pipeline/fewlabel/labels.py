"""What each recipe learns from on one labelled draw, before any encoder touches it: the labelled few and, for a
recipe that learns from the graph, what the graph says on that draw.

The `labels@<budget>` stage writes it, one folder per recipe (``<recipe>/draw_<n>/``), and each recipe's classify
stages depend on their own folder: a change to the graph's params reruns the recipes that read the graph, and no
other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import DataError
from pipeline.runtime import io
from pipeline.stats import draw_key


@dataclass
class GraphLabels:
    """What the graph says on one labelled draw, before any network: the propagated label of every training
    image, and the class shares among the nearest training images of each test and each labelled image."""

    propagated: np.ndarray
    test_vote: np.ndarray
    labelled_vote: np.ndarray

    def targets(self, rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """A class for every training image: propagated, true where known."""
        targets = self.propagated.copy()
        targets[rows] = labels
        return targets


def recipe_arrays(draws: list[tuple[np.ndarray, np.ndarray]], graph: list[GraphLabels] | None) -> dict:
    """One recipe's folder: each draw's labelled rows and labels, and the graph's labels where it learns from them."""
    return {
        draw_key(index + 1): {"rows": rows, "labels": labels, **(asdict(graph[index]) if graph else {})}
        for index, (rows, labels) in enumerate(draws)
    }


def read_draws(folder: Path) -> list[tuple[np.ndarray, np.ndarray, GraphLabels | None]]:
    """A recipe's folder back: per draw, in order, the labelled rows, their labels and the graph's labels (or None)."""
    draws = sorted(Path(folder).glob("draw_*"), key=lambda path: int(path.name.split("_")[1]))
    if not draws:
        raise DataError(f"{folder}: no labelled draws (run the stage that produces it: dvc repro)")
    read = []
    for path in draws:
        arrays = io.read_array_folder(path)
        rows, labels = arrays.pop("rows"), arrays.pop("labels")
        read.append((rows, labels, GraphLabels(**arrays) if arrays else None))
    return read

"""What the chapter's techniques share: their result, their training and their measures.

Each technique's ``train.run`` is a pure function, arrays and params in, a :class:`TechniqueResult` out;
``stages/chapter.py`` does the I/O and the report draws the figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.schema import TrainingParams
from pipeline.training import fit_autoencoder, mean_squared_error

SHOWN_IMAGES = 10  # test images each technique keeps for its figure


@dataclass
class TechniqueResult:
    metrics: dict[str, float]
    arrays: dict[str, np.ndarray]  # what the report draws
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)  # per model, per epoch
    timings: dict[str, float] = field(default_factory=dict)  # wall-clock seconds: MLflow only, never DVC files

    def history_table(self) -> pd.DataFrame:
        """All models' learning curves in one long table (model, epoch, loss, val_loss): one DVC plot file."""
        if not self.histories:
            return pd.DataFrame(columns=["model", "epoch", "loss", "val_loss"])
        return pd.concat([history.assign(model=name) for name, history in self.histories.items()], ignore_index=True)[
            ["model", "epoch", "loss", "val_loss"]
        ]


def stack_specs(
    units: Sequence[int], tied: bool = False, activation: str = "selu", coding_activation: str | None = None
) -> list[dict]:
    """Layer specs of a dense stack on pixels: the outer decoder reconstructs pixels in [0, 1] (sigmoid)."""
    return [
        {
            "name": f"h{index + 1}",
            "units": size,
            "activation": coding_activation if coding_activation and index == len(units) - 1 else activation,
            "output_activation": "sigmoid" if index == 0 else activation,
            "tied": tied,
        }
        for index, size in enumerate(units)
    ]


def train(
    model,
    inputs: np.ndarray,
    params: TrainingParams,
    *,
    targets: np.ndarray | None = None,
    validation: np.ndarray | None = None,
    epochs: int | None = None,
    callbacks=None,
) -> pd.DataFrame:
    """Fit with Adam and MSE to reconstruct ``inputs`` (or to map them to ``targets``); ``validation`` images
    are reconstructed for the validation curve."""
    return fit_autoencoder(
        model,
        inputs,
        targets=targets,
        validation=validation,
        epochs=epochs or params.epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        callbacks=callbacks,
    )


def reconstruction_metrics(model, pixels: Mapping[str, np.ndarray], prefix: str = "") -> dict[str, float]:
    return {
        f"{prefix}valid_mse": mean_squared_error(model, pixels["valid"]),
        f"{prefix}test_mse": mean_squared_error(model, pixels["test"]),
    }


@contextmanager
def stopwatch(times: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    times[name] = times.get(name, 0.0) + time.perf_counter() - started

"""Determinism and fitting helpers shared by every training stage."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd


def make_deterministic(seed: int) -> None:
    """Same params, same bytes: seed every generator and force deterministic TensorFlow kernels."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def fit(model, x, y, *, epochs: int, batch_size: int, learning_rate: float, loss: str,
        metrics: list[str] | None = None, validation_data=None, callbacks=None) -> pd.DataFrame:
    """Compile and fit with Adam; return the per-epoch history as a table (epoch counts from 1)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics or [])
    history = model.fit(
        x, y, epochs=epochs, batch_size=batch_size, shuffle=True,
        validation_data=validation_data, callbacks=callbacks or [], verbose=2,
    )
    table = pd.DataFrame(history.history)
    table.insert(0, "epoch", np.arange(1, len(table) + 1))
    return table


def mean_squared_error(model, x: np.ndarray, batch_size: int = 1024) -> float:
    reconstructions = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.square(reconstructions - x), dtype=np.float64))

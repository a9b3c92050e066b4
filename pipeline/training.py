"""Determinism, fitting and per-epoch checkpoints shared by every training stage."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import io


def make_deterministic(seed: int) -> None:
    """Same params, same bytes: seed every generator and force deterministic TensorFlow kernels."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _compile(model, *, learning_rate: float, loss: str, metrics: list[str] | None = None) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics or [])


def fit(model, x, y, *, epochs: int, batch_size: int, learning_rate: float, loss: str,
        metrics: list[str] | None = None, validation_data=None, callbacks=None) -> pd.DataFrame:
    """Compile and fit with Adam in one ``model.fit``; return the per-epoch history (epoch counts from 1)."""
    _compile(model, learning_rate=learning_rate, loss=loss, metrics=metrics)
    history = model.fit(
        x, y, epochs=epochs, batch_size=batch_size, shuffle=True,
        validation_data=validation_data, callbacks=callbacks or [], verbose=2,
    )
    table = pd.DataFrame(history.history)
    table.insert(0, "epoch", np.arange(1, len(table) + 1))
    return table


def fingerprint(settings: Mapping, inputs: Iterable[str | Path]) -> str:
    """What a checkpoint must match to be resumed: the settings, the input files' contents and the library versions."""
    import keras
    import tensorflow as tf

    return hashlib.sha256(json.dumps({
        "settings": settings, "tensorflow": tf.__version__, "keras": keras.__version__,
        "inputs": {Path(path).as_posix(): io.content_hash(path) for path in inputs},
    }, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Checkpoint:
    """The state of a long fit after its last finished epoch: weights, optimizer, random-seed states, history.

    Saved whole (one folder, renamed into place) after every epoch, so a killed run resumes from the last
    finished epoch, and ends with the same bytes as a run that was never interrupted.
    """

    directory: Path
    fingerprint: str
    STATE = "state.json"

    def save(self, model, epoch: int, history: list[dict]) -> None:
        io.write_arrays(self.directory, {"model": _numbered(model.variables), "optimizer": _numbered(model.optimizer.variables)},
                        json_files={self.STATE: {"fingerprint": self.fingerprint, "epoch": epoch, "history": history}})

    def restore(self, model) -> tuple[int, list[dict]]:
        """Load the saved state into ``model`` (compiled, optimizer built); (0, []) when there is nothing to resume."""
        state_file = self.directory / self.STATE
        if not state_file.exists():
            return 0, []
        state = json.loads(state_file.read_text())
        if state.get("fingerprint") != self.fingerprint:
            print(f"{self.directory}: checkpoint of other settings or inputs, starting afresh", file=sys.stderr)
            return 0, []
        for group, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
            for index, variable in enumerate(variables):
                variable.assign(io.read_array(self.directory / group / f"{_variable_name(index)}.npy"))
        print(f"{self.directory}: resuming after epoch {state['epoch']}", file=sys.stderr)
        return state["epoch"], state["history"]

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _variable_name(index: int) -> str:
    return f"{index:03d}"


def _numbered(variables) -> dict:
    return {_variable_name(index): np.asarray(variable) for index, variable in enumerate(variables)}


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The shuffled order of one epoch, a pure function of (seed, epoch): a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def fit_resumable(model, x, y, *, epochs: int, batch_size: int, learning_rate: float, loss: str, seed: int,
                  validation_data=None, checkpoint: Checkpoint | None = None, callbacks=None) -> pd.DataFrame:
    """Fit one epoch at a time with Adam, checkpointing after each; resume from ``checkpoint`` if it matches.

    The epoch's shuffle comes from :func:`epoch_order`, not from Keras, whose shuffle state cannot be saved.
    """
    _compile(model, learning_rate=learning_rate, loss=loss)
    model.optimizer.build(model.trainable_variables)
    start, history = checkpoint.restore(model) if checkpoint else (0, [])
    for epoch in range(start, epochs):
        started = time.perf_counter()
        order = epoch_order(seed, epoch, len(x))
        result = model.fit(x[order], y[order], batch_size=batch_size, epochs=epoch + 1, initial_epoch=epoch,
                           shuffle=False, validation_data=validation_data, callbacks=callbacks or [], verbose=0)
        row = {"epoch": epoch + 1, **{name: float(values[-1]) for name, values in result.history.items()}}
        history.append(row)
        print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{name} {value:.6f}" for name, value in row.items()
                                                        if name != "epoch") + f" ({time.perf_counter() - started:.1f} s)")
        if checkpoint:
            checkpoint.save(model, epoch + 1, history)
    return pd.DataFrame(history, columns=["epoch", "loss", *(["val_loss"] if validation_data is not None else [])])


def mean_squared_error(model, x: np.ndarray, batch_size: int = 1024, targets: np.ndarray | None = None) -> float:
    """Reconstruction MSE of ``x`` (against ``targets``, e.g. clean images for corrupted ``x``), in float64."""
    reconstructions = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.square(reconstructions - (x if targets is None else targets)), dtype=np.float64))

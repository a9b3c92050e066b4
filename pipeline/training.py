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

# Batches per call into the compiled train step: fewer Python round trips per epoch (the benchmark's choice).
STEPS_PER_EXECUTION = 32
# Below this many train steps XLA's compile time (a second or two) costs more than it saves.
XLA_MIN_STEPS = 2000


def make_deterministic(seed: int) -> None:
    """Same params, same bytes: seed every generator.

    TensorFlow's ``enable_op_determinism`` is not called: Keras turns XLA off under it, and the XLA-compiled
    train steps are deterministic on a given CPU without it (tests compare the bytes of two runs and of a
    resumed run).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(seed)


def xla_pays(model, steps: int) -> bool:
    """Whether XLA speeds up ``steps`` train steps of ``model`` on this CPU-only pipeline.

    Measured on 2 cores against Keras without XLA: dense layers train about 2x faster (benchmarks/throughput.py);
    but a layer drawing random numbers (Gaussian noise, dropout, the VAE's sampling: every layer with a seed
    generator) 7 to 13x slower, since XLA's CPU random-number kernels are slow, and convolutions 2.6x slower than
    oneDNN's. A 100-label classifier (200 steps) trains in 1.6 to 2 s without XLA, 2.9 to 3.3 s with it.
    """
    import keras

    convolutions = (
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.Conv3DTranspose,
        keras.layers.DepthwiseConv2D,
        keras.layers.SeparableConv2D,
    )
    return steps >= XLA_MIN_STEPS and not any(
        isinstance(layer, convolutions) or hasattr(layer, "seed_generator") for layer in model._flatten_layers()
    )


def compile_for_speed(model, *, learning_rate: float, loss, metrics: list[str] | None = None, steps: int) -> None:
    """Compile with Adam, several steps per execution and XLA where it pays (:func:`xla_pays`): about twice
    Keras's default speed on CPU, with the same loss."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss,
        metrics=metrics or [],
        jit_compile=xla_pays(model, steps),
        steps_per_execution=STEPS_PER_EXECUTION,
    )


def fit(
    model,
    x,
    y,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    loss,
    seed: int | None = None,
    metrics: list[str] | None = None,
    validation_data=None,
    checkpoint: Checkpoint | None = None,
    callbacks=None,
    augment=None,
) -> pd.DataFrame:
    """Compile with Adam (:func:`compile_for_speed`) and train in one ``model.fit``; the per-epoch history.

    Each epoch's shuffle is :func:`epoch_order` of ``seed`` (None: drawn from the generators that
    :func:`make_deterministic` seeded), not Keras's, whose state cannot be saved; batches are gathered from ``x`` by
    index, so an epoch copies nothing. ``augment(images, seed)`` transforms each training batch in the input
    pipeline with a stateless seed of (seed, epoch, batch). With a ``checkpoint`` the state is saved after every
    epoch and a matching checkpoint is resumed: the resumed run sees the very batches an uninterrupted one would.
    """
    import keras
    import tensorflow as tf

    count = len(x)
    # all the fit's steps, not those left after a resume, so that a resumed run compiles the same way
    compile_for_speed(
        model, learning_rate=learning_rate, loss=loss, metrics=metrics, steps=-(-count // batch_size) * epochs
    )
    model.optimizer.build(model.trainable_variables)
    start, history = checkpoint.restore(model) if checkpoint else (0, [])
    if seed is None:
        seed = int(np.random.randint(2**31 - 1))
    order = tf.Variable(epoch_order(seed, start, count), trainable=False, name="epoch_order")
    epoch_number = tf.Variable(start, trainable=False, dtype=tf.int64, name="epoch_number")
    inputs = tf.constant(x)
    targets = inputs if y is x else tf.constant(y)

    def batch(index):
        rows = order[index * batch_size : (index + 1) * batch_size]
        images = tf.gather(inputs, rows)
        if augment is not None:
            batch_seed = tf.random.experimental.stateless_fold_in(
                tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64), epoch_number), index
            )
            images = tf.ensure_shape(augment(images, batch_seed), images.shape)
        return images, tf.gather(targets, rows)

    batches = (
        tf.data.Dataset.range(-(-count // batch_size))
        .map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(2)
    )

    class EpochEnd(keras.callbacks.Callback):
        """Sets the epoch's order before it starts; records, prints and checkpoints it when it ends."""

        def on_epoch_begin(self, epoch, logs=None):
            order.assign(epoch_order(seed, epoch, count))
            epoch_number.assign(epoch)
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{name: float(value) for name, value in (logs or {}).items()}}
            history.append(row)
            print(
                f"epoch {epoch + 1}/{epochs}: "
                + ", ".join(f"{name} {value:.6f}" for name, value in row.items() if name != "epoch")
                + f" ({time.perf_counter() - self.started:.1f} s)",
                flush=True,
            )
            if checkpoint:
                checkpoint.save(self.model, epoch + 1, history)

    if start < epochs:
        model.fit(
            batches,
            epochs=epochs,
            initial_epoch=start,
            validation_data=validation_data,
            validation_batch_size=1024,
            shuffle=False,
            callbacks=[*(callbacks or []), EpochEnd()],
            verbose=0,
        )
    columns = ["epoch", "loss", *(["val_loss"] if validation_data is not None else [])]
    return pd.DataFrame(history, columns=list(dict.fromkeys([*columns, *(history[0] if history else [])])))


def fit_autoencoder(model, inputs, *, targets=None, validation=None, **settings) -> pd.DataFrame:
    """:func:`fit` with the MSE, reconstructing ``inputs`` (or mapping them to ``targets``); the ``validation``
    inputs are reconstructed for the validation curve."""
    return fit(
        model,
        inputs,
        inputs if targets is None else targets,
        loss="mse",
        validation_data=None if validation is None else (validation, validation),
        **settings,
    )


def fingerprint(settings: Mapping, inputs: Iterable[str | Path]) -> str:
    """What a checkpoint must match to be resumed: the settings, the input files' contents and the library versions."""
    import keras
    import tensorflow as tf

    return hashlib.sha256(
        json.dumps(
            {
                "settings": settings,
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "inputs": {Path(path).as_posix(): io.content_hash(path) for path in inputs},
            },
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()


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
        io.write_arrays(
            self.directory,
            {"model": _numbered(model.variables), "optimizer": _numbered(model.optimizer.variables)},
            json_files={self.STATE: {"fingerprint": self.fingerprint, "epoch": epoch, "history": history}},
        )

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


def mean_squared_error(model, x: np.ndarray, batch_size: int = 1024, targets: np.ndarray | None = None) -> float:
    """Reconstruction MSE of ``x`` (against ``targets``, e.g. clean images for corrupted ``x``), in float64."""
    reconstructions = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.square(reconstructions - (x if targets is None else targets)), dtype=np.float64))

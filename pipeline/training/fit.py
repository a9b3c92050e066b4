"""A seeded ``fit`` that reads like Keras's own: Adam, batches that are a pure function of (seed, epoch), a
per-epoch history and an optional checkpoint to resume from."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.runtime.shards import Sharded, bounded
from pipeline.training.batches import VALIDATION_BATCH, EpochBatches, epoch_order, streamed_pairs
from pipeline.training.checkpoint import Checkpoint
from pipeline.training.distributed import distributed, fit_distributed, is_chief
from pipeline.training.speed import CompiledTwins, compile_for_speed


def make_deterministic(seed: int) -> None:
    """Same params, same bytes: seed every generator.

    TensorFlow's ``enable_op_determinism`` is not called: Keras turns XLA off under it, and the XLA-compiled
    train steps are deterministic on a given CPU without it (tests compare the bytes of two runs and of a
    resumed run).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(seed)


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
    history: bool = True,
    twins: CompiledTwins | None = None,
) -> pd.DataFrame | None:
    """Compile with Adam (:func:`compile_for_speed`) and train; the per-epoch history (None with ``history``
    False: a caller that needs no record of each epoch, and has no checkpoint, validation data or callbacks to
    act at epoch ends, gets the same steps in one pass, see :func:`_fit_in_one_pass`).

    Each epoch's batches are a pure function of (``seed``, epoch) (None: a seed drawn from the generators that
    :func:`make_deterministic` seeded), not of Keras's shuffle, whose state cannot be saved:

    - arrays: the rows in :func:`epoch_order`, gathered by index, so an epoch copies nothing;
    - a :class:`~pipeline.runtime.shards.Sharded` subset opened for streaming (``Sharded.streamed``; a
      reconstruction: ``y is x``) is streamed: the shards in an order drawn from (seed, epoch), read a few at a
      time into blocks of about its ``shuffle_rows`` rows, each block shuffled, so memory holds a block, not the
      subset.

    ``augment(images, seed)`` transforms each training batch in the input pipeline with a stateless seed of
    (seed, epoch, batch). With a ``checkpoint`` the state is saved after every epoch and a matching checkpoint is
    resumed: the resumed run sees the very batches an uninterrupted one would. Inside a distribution strategy's
    scope (:func:`distribution`) each replica trains on its share of every global batch of ``batch_size``.
    With ``twins`` (one device, no checkpoint) the training runs in their compiled twin of ``model``
    (:class:`~pipeline.training.speed.CompiledTwins`), and ``model`` gets its trained weights.
    """
    count = len(x)
    # all the fit's steps, not those left after a resume, so that a resumed run compiles the same way
    settings = dict(learning_rate=learning_rate, loss=loss, metrics=metrics, steps=-(-count // batch_size) * epochs)
    if twins is not None and not (checkpoint or distributed()):
        trainer = twins.trainer(model, settings)
    else:
        trainer = model
        compile_for_speed(model, **settings)
        model.optimizer.build(model.trainable_variables)
    frame = _fit_compiled(
        trainer, x, y, epochs, batch_size, seed, validation_data, checkpoint, callbacks, augment, history
    )
    if trainer is not model:
        model.set_weights(trainer.get_weights())
    return frame


def _fit_compiled(model, x, y, epochs, batch_size, seed, validation_data, checkpoint, callbacks, augment, history):
    """:func:`fit` of a compiled ``model``, its optimizer built."""
    start, rows = checkpoint.restore(model) if checkpoint else (0, [])
    if seed is None:
        seed = int(np.random.randint(2**31 - 1))
    if isinstance(validation_data, tuple) and isinstance(validation_data[0], Sharded):
        validation_data = streamed_pairs(validation_data[0], batch_size=VALIDATION_BATCH)
    epoch_batches = EpochBatches(x, y, batch_size=batch_size, seed=seed, epochs=epochs, augment=augment)

    if not (history or checkpoint or validation_data is not None or callbacks or distributed()):
        if not epoch_batches.streamed:
            _fit_in_one_pass(model, epoch_batches, epochs)
            return None

    progress = Progress(start, epochs)

    def end_epoch(epoch: int, logs: Mapping, started: float) -> None:
        row = {"epoch": epoch + 1, **{name: float(value) for name, value in logs.items()}}
        rows.append(row)
        progress.epoch_ended(row, time.perf_counter() - started)
        if checkpoint and is_chief():
            checkpoint.save(model, epoch + 1, rows)

    if start < epochs:
        train = fit_distributed if distributed() else _fit_keras
        train(model, epoch_batches, start, epochs, validation_data, list(callbacks or []), end_epoch)
        if rows:
            progress.fit_ended(rows[-1])
    columns = ["epoch", "loss", *(["val_loss"] if validation_data is not None else [])]
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys([*columns, *(rows[0] if rows else [])])))
    return frame if history else None


class Progress:
    """What a fit prints: one line when it ends, with its last epoch's numbers; in between, an epoch's line only
    when ``HEARTBEAT_SECONDS`` have passed since the last line, so that a long fit shows it is alive and a short one
    keeps the log short. Every epoch's numbers are in the history (the stage's CSV and its MLflow run)."""

    HEARTBEAT_SECONDS = 30.0

    def __init__(self, start: int, epochs: int):
        self.start, self.epochs = start, epochs
        self.started = self.last_line = time.perf_counter()

    def epoch_ended(self, row: Mapping, seconds: float) -> None:
        if time.perf_counter() - self.last_line >= self.HEARTBEAT_SECONDS:
            print(f"epoch {row['epoch']}/{self.epochs}: {self._numbers(row)} ({seconds:.2f} s)", flush=True)
            self.last_line = time.perf_counter()

    def fit_ended(self, row: Mapping) -> None:
        epochs = f"epochs {self.start + 1}-{row['epoch']}" if self.start else f"{row['epoch']} epochs"
        print(f"{epochs}: {self._numbers(row)} ({time.perf_counter() - self.started:.1f} s)", flush=True)

    @staticmethod
    def _numbers(row: Mapping) -> str:
        return ", ".join(f"{name} {value:.6f}" for name, value in row.items() if name != "epoch")


def _fit_keras(model, epoch_batches: EpochBatches, start, epochs, validation_data, callbacks, end_epoch) -> None:
    """One ``model.fit``; the epoch number (and row order) live in variables that each epoch's start sets."""
    import keras
    import tensorflow as tf

    epoch_number = tf.Variable(start, trainable=False, dtype=tf.int64, name="epoch_number")
    order = None
    if epoch_batches.streamed:
        batches = bounded(
            tf.data.Dataset.from_tensors(0)
            .flat_map(lambda _: epoch_batches(epoch_number.read_value()))
            .apply(tf.data.experimental.assert_cardinality(epoch_batches.steps))
        )
    else:
        order = tf.Variable(epoch_order(epoch_batches.seed, start, epoch_batches.count), trainable=False)
        batches = epoch_batches(epoch_number, order)

    class EpochEnd(keras.callbacks.Callback):
        """Sets the epoch's order before it starts; records, prints and checkpoints it when it ends."""

        def on_epoch_begin(self, epoch, logs=None):
            if order is not None:
                order.assign(epoch_order(epoch_batches.seed, epoch, epoch_batches.count))
            epoch_number.assign(epoch)
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end_epoch(epoch, logs or {}, self.started)

    model.fit(
        batches,
        epochs=epochs,
        initial_epoch=start,
        validation_data=validation_data,
        validation_batch_size=VALIDATION_BATCH,
        shuffle=False,
        callbacks=[*callbacks, EpochEnd()],
        verbose=0,
    )


def _fit_in_one_pass(model, epoch_batches: EpochBatches, epochs: int) -> None:
    """Every epoch's batches, in their order, as one Keras epoch: the very steps of :func:`_fit_keras` (the same
    weights, tested) without what each Keras epoch costs to start and end (its iterator and threads, callbacks,
    metric reads: about 30 ms, most of a 100-label classifier's epoch of 4 steps). It prints nothing: its caller
    reports the one number that counts, once per training."""
    import tensorflow as tf

    count = epoch_batches.count
    orders = tf.constant(np.stack([epoch_order(epoch_batches.seed, epoch, count) for epoch in range(epochs)]))
    batches = (
        tf.data.Dataset.range(epochs)
        .flat_map(lambda epoch: epoch_batches(epoch, orders[epoch]))
        .apply(tf.data.experimental.assert_cardinality(epochs * epoch_batches.steps))
    )
    model.fit(batches, epochs=1, shuffle=False, verbose=0)


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

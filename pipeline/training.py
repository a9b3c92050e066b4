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
from pipeline.data.shards import Sharded, bounded
from pipeline.errors import ConfigError, DataError

# Batches per call into the compiled train step: fewer Python round trips per epoch (the benchmark's choice).
STEPS_PER_EXECUTION = 32
# Below this many train steps XLA's compile time (a second or two) costs more than it saves.
XLA_MIN_STEPS = 2000
VALIDATION_BATCH = 1024


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
    Keras's default speed on CPU, with the same loss. Under a distribution strategy: one step per execution, no
    XLA (Keras 3.15 fails with several steps per execution under MirroredStrategy)."""
    import keras

    one_device = not distributed()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss,
        metrics=metrics or [],
        jit_compile=one_device and xla_pays(model, steps),
        steps_per_execution=STEPS_PER_EXECUTION if one_device else 1,
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
    history: bool = True,
    reuse_compiled: bool = False,
) -> pd.DataFrame | None:
    """Compile with Adam (:func:`compile_for_speed`) and train; the per-epoch history (None with ``history``
    False: a caller that needs no record of each epoch, and has no checkpoint, validation data or callbacks to
    act at epoch ends, gets the same steps in one pass, see :func:`_fit_in_one_pass`).

    Each epoch's batches are a pure function of (``seed``, epoch) (None: a seed drawn from the generators that
    :func:`make_deterministic` seeded), not of Keras's shuffle, whose state cannot be saved:

    - arrays: the rows in :func:`epoch_order`, gathered by index, so an epoch copies nothing;
    - a :class:`~pipeline.data.shards.Sharded` subset opened for streaming (``Sharded.streamed``; a
      reconstruction: ``y is x``) is streamed: the shards in an order drawn from (seed, epoch), read a few at a
      time into blocks of about its ``shuffle_rows`` rows, each block shuffled, so memory holds a block, not the
      subset.

    ``augment(images, seed)`` transforms each training batch in the input pipeline with a stateless seed of
    (seed, epoch, batch). With a ``checkpoint`` the state is saved after every epoch and a matching checkpoint is
    resumed: the resumed run sees the very batches an uninterrupted one would. Inside a distribution strategy's
    scope (:func:`distribution`) each replica trains on its share of every global batch of ``batch_size``.
    With ``reuse_compiled`` (one device, no checkpoint) the training runs in a compiled twin of ``model`` that
    the process keeps (:func:`_compiled_twin`), and ``model`` gets its trained weights.
    """
    count = len(x)
    # all the fit's steps, not those left after a resume, so that a resumed run compiles the same way
    settings = dict(learning_rate=learning_rate, loss=loss, metrics=metrics, steps=-(-count // batch_size) * epochs)
    if reuse_compiled and not (checkpoint or distributed()):
        trainer = _compiled_twin(model, settings)
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

    def end_epoch(epoch: int, logs: Mapping, started: float) -> None:
        row = {"epoch": epoch + 1, **{name: float(value) for name, value in logs.items()}}
        rows.append(row)
        print(
            f"epoch {epoch + 1}/{epochs}: "
            + ", ".join(f"{name} {value:.6f}" for name, value in row.items() if name != "epoch")
            + f" ({time.perf_counter() - started:.2f} s)",
            flush=True,
        )
        if checkpoint and is_chief():
            checkpoint.save(model, epoch + 1, rows)

    if start < epochs:
        train = _fit_distributed if distributed() else _fit_keras
        train(model, epoch_batches, start, epochs, validation_data, list(callbacks or []), end_epoch)
    columns = ["epoch", "loss", *(["val_loss"] if validation_data is not None else [])]
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys([*columns, *(rows[0] if rows else [])])))
    return frame if history else None


def return_freed_memory() -> None:
    """Give blocks of 1 MB and more back to the system as soon as they are freed.

    glibc raises its mmap threshold after the first large block is freed (up to 32 MB) and then keeps such blocks
    in the arena of the thread that freed them. A stream allocates shard-sized buffers on many tf.data threads,
    so without this the resident memory grows with the number of shards read until every arena holds some.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "mallopt"):  # glibc
        m_mmap_threshold = -3
        libc.mallopt(m_mmap_threshold, 1 << 20)


class EpochBatches:
    """The training batches of any epoch, as a tf.data pipeline built from the epoch number (a tensor)."""

    def __init__(self, x, y, *, batch_size: int, seed: int, epochs: int, augment):
        import tensorflow as tf

        self.batch_size, self.seed, self.augment = batch_size, seed, augment
        self.steps = -(-len(x) // batch_size)
        self.streamed = isinstance(x, Sharded)
        if self.streamed:
            if y is not x or not x.shuffle_rows:
                raise TypeError("a streamed subset trains a reconstruction (y is x), opened by Sharded.streamed")
            return_freed_memory()
            self.source = x
            self.shard_orders = tf.constant(
                np.stack([np.random.default_rng([seed, epoch]).permutation(len(x.shards)) for epoch in range(epochs)])
            )
        else:
            self.count = len(x)
            self.inputs = tf.constant(x)
            self.targets = self.inputs if y is x else tf.constant(y)

    def __call__(self, epoch, order=None):
        """The batches of ``epoch``; in-memory arrays take the epoch's row ``order`` (:func:`epoch_order`)."""
        import tensorflow as tf

        if self.streamed:
            # The epoch's shards in their order, a few at a time in blocks of about shuffle_rows rows, each block
            # shuffled by a permutation drawn from (seed, epoch, block), then cut into batches: a pure function
            # of the epoch, however the run was interrupted.
            largest_shard = max(shard.rows for shard in self.source.shards)
            shards_per_block = min(max(1, -(-self.source.shuffle_rows // largest_shard)), len(self.source.shards))
            batches = (
                self.source.blocks(
                    tf.gather(self.shard_orders, epoch),
                    shards_per_block=shards_per_block,
                    shuffle_seed=tf.stack([tf.constant(self.seed, tf.int64), tf.cast(epoch, tf.int64)]),
                )
                .rebatch(self.batch_size)
                .apply(tf.data.experimental.assert_cardinality(self.steps))
            )
            if self.augment is None:  # a reconstruction: each batch is its own target, nothing to compute
                return bounded(batches.map(lambda images: (images, images)).prefetch(2))
            batches = batches.enumerate()
            pairs = lambda index, images: self._pair(images, images, epoch, index)  # noqa: E731
        else:
            order = order if isinstance(order, (tf.Variable, tf.Tensor)) else tf.constant(order)

            def pairs(index):
                rows = order[index * self.batch_size : (index + 1) * self.batch_size]
                return self._pair(tf.gather(self.inputs, rows), tf.gather(self.targets, rows), epoch, index)

            batches = tf.data.Dataset.range(self.steps)
        batches = batches.map(pairs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2)
        return bounded(batches) if self.streamed else batches

    def _seed(self, purpose: int, epoch):
        """A stateless seed of (seed, purpose, epoch)."""
        import tensorflow as tf

        return tf.random.experimental.stateless_fold_in(tf.constant([self.seed, purpose], tf.int64), epoch)

    def _pair(self, images, targets, epoch, index):
        import tensorflow as tf

        if self.augment is not None:
            batch_seed = tf.random.experimental.stateless_fold_in(self._seed(0, epoch), index)
            images = tf.ensure_shape(self.augment(images, batch_seed), images.shape)
        return images, targets


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


def _compiled_twin(model, settings: dict):
    """A compiled model of ``model``'s architecture for these compile ``settings`` (:func:`compile_for_speed`),
    kept for the life of the process, its weights set to ``model``'s and its optimizer state to a fresh one's.

    A stage that trains one architecture on each of its label draws thus traces (and XLA-compiles) the train step
    once, not once a draw (0.4 to 1.5 s each time); a fresh optimizer's state is zero, so the steps are those of a
    freshly compiled model (tested). The twin is built with zero initial weights: cloning must not draw from the
    seeded generators, or the models built after it would start from other weights.
    """
    import keras

    key = json.dumps([model.to_json(), {name: repr(value) for name, value in settings.items()}])
    twin = _TWINS.get(key)
    if twin is None:

        def without_random_draws(layer):
            config = layer.get_config()
            return layer.__class__.from_config(
                {name: "zeros" if name.endswith("_initializer") else value for name, value in config.items()}
            )

        twin = _TWINS[key] = keras.models.clone_model(model, clone_function=without_random_draws)
        compile_for_speed(twin, **settings)
        twin.optimizer.build(twin.trainable_variables)
    else:
        for variable in twin.optimizer.variables:
            if variable.name != "learning_rate":
                variable.assign(np.zeros(variable.shape, variable.dtype))
    twin.set_weights(model.get_weights())
    return twin


_TWINS: dict[str, object] = {}


def _fit_in_one_pass(model, epoch_batches: EpochBatches, epochs: int) -> None:
    """Every epoch's batches, in their order, as one Keras epoch: the very steps of :func:`_fit_keras` (the same
    weights, tested) without what each Keras epoch costs to start and end (its iterator and threads, callbacks,
    metric reads: about 30 ms, most of a 100-label classifier's epoch of 4 steps)."""
    import tensorflow as tf

    started = time.perf_counter()
    count = epoch_batches.count
    orders = tf.constant(np.stack([epoch_order(epoch_batches.seed, epoch, count) for epoch in range(epochs)]))
    batches = (
        tf.data.Dataset.range(epochs)
        .flat_map(lambda epoch: epoch_batches(epoch, orders[epoch]))
        .apply(tf.data.experimental.assert_cardinality(epochs * epoch_batches.steps))
    )
    logs = model.fit(batches, epochs=1, shuffle=False, verbose=0).history
    print(
        f"epochs 1-{epochs} in one pass: "
        + ", ".join(f"{name} {values[-1]:.6f}" for name, values in logs.items())
        + f" (means over all epochs; {time.perf_counter() - started:.2f} s)",
        flush=True,
    )


def _fit_distributed(model, epoch_batches: EpochBatches, start, epochs, validation_data, callbacks, end_epoch) -> None:
    """Keras's own train and test steps run by the strategy on every replica (``strategy.run``), epoch by epoch.

    Not ``model.fit``: under MultiWorkerMirroredStrategy Keras 3.15's fit fails before the first step (it reduces a
    data batch across workers; keras-team/keras#20585). This loop is the one TensorFlow's custom-training-loop
    guides use, around the same ``train_step`` that ``fit`` calls.
    """
    import keras
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    shard_rows_across_workers = tf.data.Options()
    shard_rows_across_workers.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    def distributed(dataset):
        return strategy.experimental_distribute_dataset(dataset.with_options(shard_rows_across_workers))

    @tf.function
    def train_step(iterator):
        strategy.run(model.train_step, args=(next(iterator),))

    @tf.function
    def test_step(iterator):
        strategy.run(model.test_step, args=(next(iterator),))

    def run_epoch(dataset, step) -> dict:
        model.reset_metrics()
        iterator = iter(distributed(dataset))
        for _ in range(int(dataset.cardinality())):
            step(iterator)
        return {name: float(value) for name, value in model.get_metrics_result().items()}

    starts = strategy.gather(strategy.run(lambda: tf.constant([start])), axis=0).numpy()
    if len(set(starts)) > 1:
        raise DataError(
            f"checkpoint: the workers would resume after epochs {sorted(set(starts))}; every worker must see the "
            "chief's checkpoint folder (shared storage, or copy it), or none of them"
        )
    if validation_data is not None and not isinstance(validation_data, tf.data.Dataset):
        validation_data = tf.data.Dataset.from_tensor_slices(validation_data).batch(VALIDATION_BATCH)
    listeners = keras.callbacks.CallbackList(callbacks, model=model)
    model.stop_training = False
    listeners.on_train_begin()
    for epoch in range(start, epochs):
        started = time.perf_counter()
        listeners.on_epoch_begin(epoch)
        order = None if epoch_batches.streamed else epoch_order(epoch_batches.seed, epoch, epoch_batches.count)
        logs = run_epoch(epoch_batches(tf.constant(epoch, tf.int64), order), train_step)
        if validation_data is not None:
            logs |= {f"val_{name}": value for name, value in run_epoch(validation_data, test_step).items()}
        listeners.on_epoch_end(epoch, logs)
        end_epoch(epoch, logs, started)
        if model.stop_training:
            break
    listeners.on_train_end()


def streamed_pairs(subset: Sharded, batch_size: int):
    """A subset streamed in order as (inputs, targets = inputs) batches: a reconstruction's validation data."""
    import tensorflow as tf

    return (
        subset.blocks()
        .rebatch(batch_size)
        .apply(tf.data.experimental.assert_cardinality(-(-subset.rows // batch_size)))
        .map(lambda images: (images, images))
    )


def distributed() -> bool:
    """Whether the code runs inside a distribution strategy's scope (see :func:`distribution`)."""
    import tensorflow as tf

    return tf.distribute.has_strategy()


def distribution(strategy: str, cpu_devices: int = 1):
    """The tf.distribute strategy that ``train.strategy`` names, to enter (``with ...scope():``) before models
    are built.

    ``default``: one device. ``mirrored``: MirroredStrategy over every local GPU, or, without GPUs, the CPU split
    into ``cpu_devices`` logical devices (to try the strategy; no faster). ``multi_worker``:
    MultiWorkerMirroredStrategy over the processes that ``TF_CONFIG`` describes. Call it before TensorFlow runs
    anything: logical devices are fixed once it has.
    """
    import tensorflow as tf

    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()  # every local GPU
        cpu = tf.config.list_physical_devices("CPU")[0]
        if cpu_devices > 1:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
        return tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])
    if strategy == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError(
                "train.strategy: multi_worker needs TF_CONFIG, the cluster's workers and this process's task "
                '(e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 0}})'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"train.strategy: got {strategy!r}, must be default, mirrored or multi_worker")


def stage_strategy(train, part: str, distributed: bool = True):
    """The strategy that a stage's ``part`` runs under (``train``: params.yaml's train block). A part that cannot
    be distributed runs on one device, on the chief alone (it says so): None in the other workers, which skip it."""
    strategy = distribution(train.strategy, train.cpu_devices)
    if distributed or train.strategy == "default":
        return strategy
    if not is_chief(strategy):
        return None
    print(f"{part}: trains on one device (train.strategy {train.strategy} is not used)", flush=True)
    return distribution("default")


def is_chief(strategy=None) -> bool:
    """Whether this process writes outputs and checkpoints: every process but the non-chief workers of a
    multi-worker cluster (the chief is the ``chief`` task, or worker 0). ``strategy``: the one in scope."""
    import tensorflow as tf

    return (strategy or tf.distribute.get_strategy()).extended.should_checkpoint


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


def mean_squared_error(model, x, batch_size: int = 1024, targets: np.ndarray | None = None) -> float:
    """Reconstruction MSE of ``x`` (against ``targets``, e.g. clean images for corrupted ``x``), in float64; a
    :class:`~pipeline.data.shards.Sharded` ``x`` shard by shard."""
    if isinstance(x, Sharded):
        if targets is not None:
            raise TypeError("a streamed subset is its own target")
        total = sum(
            np.sum(np.square(model.predict(chunk, batch_size=batch_size, verbose=0) - chunk), dtype=np.float64)
            for chunk in x.chunks()
        )
        return float(total / (x.rows * int(np.prod(x.row_shape))))
    reconstructions = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.square(reconstructions - (x if targets is None else targets)), dtype=np.float64))


def predict(model, x, batch_size: int = 1024):
    """``model.predict`` of arrays; of a :class:`~pipeline.data.shards.Sharded` subset (a shard folder: only those
    stream), an iterator of each shard's outputs (one shard in memory at a time), so its codings can be written as
    shards."""
    if isinstance(x, Sharded):
        return (model.predict(chunk, batch_size=batch_size, verbose=0) for chunk in x.chunks())
    return model.predict(x, batch_size=batch_size, verbose=0)

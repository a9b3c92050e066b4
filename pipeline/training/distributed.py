"""tf.distribute: the strategy a stage trains under, which process writes, and the training loop that runs on
every replica."""

from __future__ import annotations

import os
import time

from pipeline.errors import ConfigError, DataError
from pipeline.training.batches import VALIDATION_BATCH, EpochBatches, epoch_order


def fit_distributed(model, epoch_batches: EpochBatches, start, epochs, validation_data, callbacks, end_epoch) -> None:
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

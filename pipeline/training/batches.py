"""Each epoch's training batches as a pure function of (seed, epoch): a resumed run sees the very same batches."""

from __future__ import annotations

import numpy as np

from pipeline.runtime.shards import Sharded, bounded

# The batch size of every validation pass: large, since nothing is learnt from it.
VALIDATION_BATCH = 1024


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


def streamed_pairs(subset: Sharded, batch_size: int):
    """A subset streamed in order as (inputs, targets = inputs) batches: a reconstruction's validation data."""
    import tensorflow as tf

    return (
        subset.blocks()
        .rebatch(batch_size)
        .apply(tf.data.experimental.assert_cardinality(-(-subset.rows // batch_size)))
        .map(lambda images: (images, images))
    )


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The shuffled order of one epoch, a pure function of (seed, epoch): a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(count)

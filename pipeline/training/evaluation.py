"""A trained model's outputs and reconstruction error, for arrays and for subsets that stream shard by shard."""

from __future__ import annotations

import numpy as np

from pipeline.runtime.shards import Sharded


def mean_squared_error(model, x, batch_size: int = 1024, targets: np.ndarray | None = None) -> float:
    """Reconstruction MSE of ``x`` (against ``targets``, e.g. clean images for corrupted ``x``), in float64; a
    :class:`~pipeline.runtime.shards.Sharded` ``x`` shard by shard."""
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
    """``model.predict`` of arrays; of a :class:`~pipeline.runtime.shards.Sharded` subset (a shard folder: only those
    stream), an iterator of each shard's outputs (one shard in memory at a time), so its codings can be written as
    shards."""
    if isinstance(x, Sharded):
        return (model.predict(chunk, batch_size=batch_size, verbose=0) for chunk in x.chunks())
    return model.predict(x, batch_size=batch_size, verbose=0)

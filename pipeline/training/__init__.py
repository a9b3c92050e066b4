"""Training shared by every training stage, one job per module:

- :mod:`~pipeline.training.fit`: the seeded ``fit`` (and ``fit_autoencoder``), its per-epoch history;
- :mod:`~pipeline.training.checkpoint`: the state saved after each epoch, resumed to the same bytes;
- :mod:`~pipeline.training.batches`: each epoch's batches from arrays or from streamed shards;
- :mod:`~pipeline.training.speed`: XLA where it pays, steps per execution, compiled models reused across draws;
- :mod:`~pipeline.training.distributed`: tf.distribute strategies and the loop that runs on every replica;
- :mod:`~pipeline.training.evaluation`: predictions and reconstruction error of arrays or shards.
"""

from pipeline.training.batches import epoch_order
from pipeline.training.checkpoint import Checkpoint, fingerprint
from pipeline.training.distributed import distributed, distribution, is_chief, stage_strategy
from pipeline.training.evaluation import mean_squared_error, predict
from pipeline.training.fit import fit, fit_autoencoder, make_deterministic
from pipeline.training.speed import STEPS_PER_EXECUTION, CompiledTwins, reset_optimizer

__all__ = [
    "STEPS_PER_EXECUTION",
    "Checkpoint",
    "CompiledTwins",
    "distributed",
    "distribution",
    "epoch_order",
    "fingerprint",
    "fit",
    "fit_autoencoder",
    "is_chief",
    "make_deterministic",
    "mean_squared_error",
    "predict",
    "reset_optimizer",
    "stage_strategy",
]

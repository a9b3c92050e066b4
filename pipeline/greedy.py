"""The greedy layer-wise recipe as pure functions: pretrain one layer, then stack the layers.

Each takes arrays (or :class:`~pipeline.runtime.shards.Sharded` subsets, which are streamed) and params and returns
arrays (or, for a sharded input, its codings shard by shard), tables and numbers; the stage scripts do the I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config import RECONSTRUCTED_TEST_IMAGES, LayerParams, StackParams
from pipeline.data.split import SUBSETS
from pipeline.runtime.shards import Sharded
from pipeline.training import Checkpoint, fit_autoencoder, mean_squared_error, predict

Rows = np.ndarray | Sharded


@dataclass
class LayerResult:
    weights: dict[str, np.ndarray]
    codings: dict[str, np.ndarray | Iterator[np.ndarray]]  # a sharded input's codings come shard by shard
    history: pd.DataFrame
    metrics: dict[str, float]


def pretrain_layer(
    name: str,
    layer: LayerParams,
    features: dict[str, Rows],
    seed: int,
    checkpoint: Checkpoint | None = None,
    input_channels: int = 1,
) -> LayerResult:
    """Train one shallow autoencoder on the layer below's codings; return its codings for every subset. A conv
    layer reads them as a grid of ``input_channels`` channels (:meth:`~pipeline.config.PretrainParams.input_channels`).
    """
    from pipeline.models.autoencoders import ShallowAutoencoder

    model = ShallowAutoencoder(name, layer, features["train"].shape[1], input_channels)
    history = fit_autoencoder(
        model.autoencoder,
        features["train"],
        validation=features["valid"],
        epochs=layer.epochs,
        batch_size=layer.batch_size,
        learning_rate=layer.learning_rate,
        seed=seed,
        checkpoint=checkpoint,
    )
    codings = {subset: predict(model.encoder, features[subset]) for subset in SUBSETS}
    metrics = {
        "train_mse": float(history["loss"].iloc[-1]),
        "valid_mse": float(history["val_loss"].iloc[-1]),
        "test_mse": mean_squared_error(model.autoencoder, features["test"]),
        "parameters": int(model.autoencoder.count_params()),
    }
    return LayerResult(model.weights(), codings, history, metrics)


@dataclass
class StackResult:
    weights: dict[str, dict[str, np.ndarray]]
    history: pd.DataFrame
    metrics: dict[str, float]
    reconstructions: dict[str, np.ndarray]


def stack_layers(
    layers: dict[str, LayerParams],
    weights: dict[str, dict[str, np.ndarray]],
    pixels: dict[str, Rows],
    params: StackParams,
    *,
    seed: int,
    checkpoint: Checkpoint | None = None,
) -> StackResult:
    """Stack the pretrained layers, measure test MSE, fine-tune end to end, measure again."""
    from pipeline.models.autoencoders import StackedAutoencoder

    stacked = StackedAutoencoder(layers, pixels["train"].shape[1])
    stacked.load(weights)
    shown = pixels["test"][:RECONSTRUCTED_TEST_IMAGES]  # the test images are an array: only shard folders stream
    reconstructions = {"before": stacked.autoencoder.predict(shown, verbose=0)}
    metrics = {"test_mse_before_finetune": mean_squared_error(stacked.autoencoder, pixels["test"])}
    history = pd.DataFrame(columns=["epoch", "loss", "val_loss"])
    if params.finetune_epochs:
        history = fit_autoencoder(
            stacked.autoencoder,
            pixels["train"],
            validation=pixels["valid"],
            epochs=params.finetune_epochs,
            batch_size=params.batch_size,
            learning_rate=params.learning_rate,
            seed=seed,
            checkpoint=checkpoint,
        )
    metrics["test_mse_after_finetune"] = mean_squared_error(stacked.autoencoder, pixels["test"])
    metrics["valid_mse"] = mean_squared_error(stacked.autoencoder, pixels["valid"])
    reconstructions["after"] = stacked.autoencoder.predict(shown, verbose=0)
    return StackResult(stacked.weights(), history, metrics, reconstructions)

"""Training one autoencoder at a time, the chapter's two ways, against training the whole stack at once.

(a) separate graphs: one shallow autoencoder per layer, each on the cached codings of the one below, then
stacked (what the pretrain stages do); (b) one graph with phases: phase k trains only layer k's encoder and
decoder inside the deep autoencoder, the layers below frozen, either recomputing the frozen layers' outputs
for every batch or caching them once; (c) the whole stack trained jointly from scratch.

The cache's saving is stated as work, multiply-adds per training image, which the same params always give;
the measured wall times, which depend on the machine and its load, go to MLflow only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import keras
import numpy as np

from pipeline.chapter.common import SHOWN_IMAGES, TechniqueResult, reconstruction_metrics, stack_specs, stopwatch, train
from pipeline.chapter.phases import Params
from pipeline.config import LayerParams
from pipeline.data.split import SUBSETS


class EpochTimer(keras.callbacks.Callback):
    """Keeps each epoch's wall time; ``total`` gets the whole phase's (the cache's predict included)."""

    def __init__(self):
        super().__init__()
        self.epochs: list[float] = []
        self.total: dict[str, float] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(time.perf_counter() - self._started)

    @property
    def median(self) -> float:
        return float(np.median(self.epochs))


def training_work(input_dim: int, units: Sequence[int], epochs: int, joint_epochs: int) -> dict[str, float]:
    """Multiply-adds per training image of each method, in millions: a training step costs about three forward
    passes (forward, and two matmuls per layer backward); a frozen layer only its forward pass."""
    sizes = [input_dim, *units]
    pair = [2 * sizes[k] * sizes[k + 1] for k in range(len(units))]  # layer k's encoder and decoder, forward
    frozen = [sum(pair[j] // 2 for j in range(k)) for k in range(len(units))]  # the encoders below layer k
    trained = sum(epochs * 3 * cost for cost in pair)
    work = {
        "separate_graphs": trained + sum(frozen[k] - frozen[k - 1] for k in range(1, len(units))),
        "phases_no_cache": trained + epochs * sum(frozen),
        "phases_cache": trained + sum(frozen),
        "joint": joint_epochs * 3 * sum(pair),
    }
    return {method: value / 1e6 for method, value in work.items()}


def separate_graphs(params: Params, pixels: Mapping[str, np.ndarray], seed: int):
    from pipeline.greedy import pretrain_layer
    from pipeline.models.autoencoders import LayerwiseAutoencoder

    specs = stack_specs(params.units)
    features, weights = pixels, {}
    for spec in specs:
        layer = LayerParams(
            input="-",
            units=spec["units"],
            activation=spec["activation"],
            output_activation=spec["output_activation"],
            epochs=params.epochs,
            batch_size=params.batch_size,
            learning_rate=params.learning_rate,
        )
        result = pretrain_layer(spec["name"], layer, features, seed)
        weights[spec["name"]], features = result.weights, result.codings
    stacked = LayerwiseAutoencoder(pixels["train"].shape[1], specs, name="separate_graphs")
    stacked.load(weights)
    return stacked


def with_phases(params: Params, pixels: Mapping[str, np.ndarray], cache: bool, seed: int):
    """Phase k: a model over the deep autoencoder's own layers that trains layer k's encoder and decoder to
    reconstruct the output of the (frozen) layers below.

    Reseeded, so the cached and uncached runs start from the same weights and see the same batches: the
    cache changes the time, not what is learned.
    """
    from pipeline.models.autoencoders import LayerwiseAutoencoder

    keras.utils.set_random_seed(seed)
    seconds: dict[str, EpochTimer] = {}
    input_dim = pixels["train"].shape[1]
    deep = LayerwiseAutoencoder(input_dim, stack_specs(params.units), name=f"phases_{'cache' if cache else 'no_cache'}")
    frozen_below = None  # pixels -> the encoders already trained
    for name in deep.layer_names:
        seconds[name] = EpochTimer()
        with stopwatch(seconds[name].total, "phase"):
            train_phase(deep, name, frozen_below, pixels, params, cache=cache, timer=seconds[name])
        pixel_input = keras.Input(shape=(input_dim,))
        frozen_below = keras.Model(pixel_input, deep.encoder(upto=name)(pixel_input))
        frozen_below.trainable = False
    for layer in deep.layers:
        layer.trainable = True
    return deep, seconds


def train_phase(
    deep, name: str, frozen_below, pixels: Mapping[str, np.ndarray], params: Params, *, cache: bool, timer
) -> None:
    """Train layer ``name``'s encoder and decoder, inside ``deep``, on the output of ``frozen_below``."""
    encoder, decoder = deep.encoder_layer(name), deep.decoder_layer(name)
    if frozen_below is None or cache:
        # The frozen layers' outputs are computed once (the cache), and the phase trains on them alone.
        inputs = (
            pixels["train"]
            if frozen_below is None
            else frozen_below.predict(pixels["train"], batch_size=1024, verbose=0)
        )
        phase_input = keras.Input(shape=(inputs.shape[1],))
        train(keras.Model(phase_input, decoder(encoder(phase_input))), inputs, params, callbacks=[timer])
    else:
        # Every batch goes through the frozen layers again. The loss compares layer k's reconstruction with
        # their output, written as a difference whose target is zero.
        pixel_input = keras.Input(shape=(pixels["train"].shape[1],))
        below = frozen_below(pixel_input)
        difference = keras.layers.Subtract()([decoder(encoder(below)), below])
        zeros = np.zeros((len(pixels["train"]), below.shape[1]), np.float32)
        train(keras.Model(pixel_input, difference), pixels["train"], params, targets=zeros, callbacks=[timer])


def run(params: Params, pixels: Mapping[str, np.ndarray], seed: int) -> TechniqueResult:
    from pipeline.models.autoencoders import LayerwiseAutoencoder

    seconds: dict[str, float] = {}
    models = {}
    with stopwatch(seconds, "separate_graphs"):
        models["separate_graphs"] = separate_graphs(params, {subset: pixels[subset] for subset in SUBSETS}, seed)
    phase_seconds = {}
    for cache in (False, True):
        method = "phases_cache" if cache else "phases_no_cache"
        with stopwatch(seconds, method):
            models[method], phase_seconds[method] = with_phases(params, pixels, cache, seed)
    histories = {}
    with stopwatch(seconds, "joint"):
        models["joint"] = LayerwiseAutoencoder(pixels["train"].shape[1], stack_specs(params.units), name="joint")
        histories["joint"] = train(
            models["joint"], pixels["train"], params, validation=pixels["valid"], epochs=params.joint_epochs
        )
    shown = pixels["test"][:SHOWN_IMAGES]
    metrics, arrays = {}, {"originals": shown}
    work = training_work(pixels["train"].shape[1], params.units, params.epochs, params.joint_epochs)
    for method, model in models.items():
        metrics.update(reconstruction_metrics(model, pixels, prefix=f"{method}_"))
        metrics[f"{method}_work"] = work[method]
        arrays[method] = model.predict(shown, verbose=0)
    metrics["cache_work_saving"] = work["phases_no_cache"] / work["phases_cache"]
    timings = {f"{method}_seconds": value for method, value in seconds.items()}
    for method, times in phase_seconds.items():
        for layer, timer in times.items():
            timings[f"{method}_{layer}_seconds"] = timer.total["phase"]
            timings[f"{method}_{layer}_median_epoch_seconds"] = timer.median
    return TechniqueResult(metrics, arrays, histories, timings)

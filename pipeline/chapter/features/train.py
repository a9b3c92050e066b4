"""What the pretrained neurons learned, read off the main pipeline's greedy layers: first-layer weights as
images, the training images that excite each top-layer neuron most, images made by gradient ascent to
excite one neuron. Whether the codings make the classes easier to read off is the probe stage's question
(pipeline/fewlabel/probe.py), on every labelled draw."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.chapter.common import TechniqueResult
from pipeline.chapter.features import Params
from pipeline.config import PIXELS, LayerParams


def maximize_activation(
    encoder, neurons: np.ndarray, *, input_dim: int, steps: int, rate: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient ascent on a random image, one per neuron, pixels kept in [0, 1]; (images, start and end activations)."""
    import tensorflow as tf

    images = tf.Variable(np.random.default_rng(seed).uniform(0, 1, (len(neurons), input_dim)).astype(np.float32))
    chosen = tf.one_hot(neurons, encoder.output_shape[-1])

    def activations():
        return tf.reduce_sum(encoder(images) * chosen, axis=1)

    start = activations().numpy()
    for _ in range(steps):
        with tf.GradientTape() as tape:
            objective = tf.reduce_sum(activations())
        gradient = tape.gradient(objective, images)
        gradient /= tf.norm(gradient, axis=1, keepdims=True) + 1e-8  # a fixed-length step per image
        images.assign(tf.clip_by_value(images + rate * gradient, 0.0, 1.0))
    return images.numpy(), start, activations().numpy()


def feeding_units(layers: list[LayerParams], kernels: list[np.ndarray]) -> np.ndarray:
    """How much each first-layer unit feeds each top-layer unit: the product of the kernels above it (the stack's
    linear part), its largest entry the unit that feeds a neuron most. A conv layer's units are its channels,
    whatever the position: its kernel counts by the sum of its weights' sizes over the filter, and a dense layer
    above it by the sum over the positions of each channel."""
    path, channels = np.eye(kernels[0].shape[-1]), None
    for index, (layer, kernel) in enumerate(zip(layers, kernels)):
        if layer.kind == "conv":
            matrix = np.abs(kernel).sum(axis=(0, 1))  # (channels below, filters)
        elif channels:
            matrix = np.abs(kernel.reshape(-1, channels, kernel.shape[1])).sum(axis=0)  # (channels below, units)
        else:
            matrix = kernel
        path = path if index == 0 else path @ matrix
        channels = kernel.shape[-1] if layer.kind == "conv" else None
    return path


def run(
    params: Params,
    *,
    layers: Mapping[str, LayerParams],
    weights: Mapping[str, Mapping[str, np.ndarray]],
    features: Mapping[str, Mapping[str, np.ndarray]],
    seed: int,
) -> TechniqueResult:
    from pipeline.models.autoencoders import StackedAutoencoder

    names = list(layers)
    top = features[names[-1]]["train"]
    count = min(params.neurons, top.shape[1])
    neurons = np.sort(np.argsort(-top.var(axis=0), kind="stable")[:count])  # the liveliest top-layer neurons
    top_images = np.argsort(-top[:, neurons], axis=0, kind="stable")[: params.top_images].T  # (neurons, top)

    stacked = StackedAutoencoder(layers, features[PIXELS]["train"].shape[1])
    stacked.load(weights)
    maximized, start, end = maximize_activation(
        stacked.encoder,
        neurons,
        input_dim=features[PIXELS]["train"].shape[1],
        steps=params.ascent_steps,
        rate=params.ascent_rate,
        seed=seed,
    )
    metrics = {
        "neurons": count,
        "ascent_start_activation": float(start.mean()),
        "ascent_end_activation": float(end.mean()),
        "top_image_activation": float(top[top_images[:, 0], neurons].mean()),
    }
    feeding = feeding_units([layers[name] for name in names], [weights[name]["encoder_kernel"] for name in names])
    first_units = np.argmax(np.abs(feeding[:, neurons % feeding.shape[1]]), axis=0)  # a conv top: each one's channel
    first_kernel = weights[names[0]]["encoder_kernel"]  # (pixels, units), or a conv layer's (side, side, 1, filters)
    arrays = {
        "first_layer_weights": first_kernel.reshape(-1, first_kernel.shape[-1])[:, first_units].T,
        "first_layer_units": first_units,
        "neurons": neurons,
        "top_images": features[PIXELS]["train"][top_images],
        "maximized": maximized,
    }
    return TechniqueResult(metrics, arrays)

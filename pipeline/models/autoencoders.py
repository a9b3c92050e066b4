"""Shallow and stacked autoencoders and the classifier built on the encoder stack.

Weights travel between stages as plain arrays (see :mod:`pipeline.io`), named after their role,
so every model here is built from params and then filled, never unpickled.
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.config import LayerParams
from pipeline.models.layers import DenseTranspose


def _initializer(activation: str) -> str:
    # SELU self-normalises only with LeCun-normal initialisation.
    return "lecun_normal" if activation == "selu" else "glorot_uniform"


def encoder_layer(name: str, layer: LayerParams, trainable: bool = True) -> keras.layers.Dense:
    return keras.layers.Dense(
        layer.units, activation=layer.activation, kernel_initializer=_initializer(layer.activation),
        name=f"{name}_encoder", trainable=trainable,
    )


def decoder_layer(name: str, layer: LayerParams, encoder: keras.layers.Dense, output_dim: int) -> keras.layers.Layer:
    if layer.tied:
        return DenseTranspose(encoder, activation=layer.output_activation, name=f"{name}_decoder")
    return keras.layers.Dense(
        output_dim, activation=layer.output_activation,
        kernel_initializer=_initializer(layer.output_activation), name=f"{name}_decoder",
    )


class ShallowAutoencoder:
    """input -> hidden -> input: one layer of the greedy stack, trained on its own."""

    def __init__(self, name: str, layer: LayerParams, input_dim: int):
        self.name = name
        inputs = keras.Input(shape=(input_dim,), name=f"{name}_input")
        self.encoder_dense = encoder_layer(name, layer)
        self.decoder = decoder_layer(name, layer, self.encoder_dense, input_dim)
        codings = self.encoder_dense(inputs)
        self.encoder = keras.Model(inputs, codings, name=f"{name}_encoder_model")
        self.autoencoder = keras.Model(inputs, self.decoder(codings), name=f"{name}_autoencoder")

    def weights(self) -> dict[str, np.ndarray]:
        return layer_weights(self.encoder_dense, self.decoder)


def layer_weights(encoder: keras.layers.Layer, decoder: keras.layers.Layer) -> dict[str, np.ndarray]:
    arrays = {"encoder_kernel": encoder.kernel.numpy(), "encoder_bias": encoder.bias.numpy(), "decoder_bias": decoder.bias.numpy()}
    if not isinstance(decoder, DenseTranspose):
        arrays["decoder_kernel"] = decoder.kernel.numpy()
    return arrays


def set_layer_weights(encoder: keras.layers.Layer, decoder: keras.layers.Layer | None, arrays: dict[str, np.ndarray]) -> None:
    encoder.kernel.assign(arrays["encoder_kernel"])
    encoder.bias.assign(arrays["encoder_bias"])
    if decoder is not None:
        decoder.bias.assign(arrays["decoder_bias"])
        if not isinstance(decoder, DenseTranspose):
            decoder.kernel.assign(arrays["decoder_kernel"])


def weight_names(layer: LayerParams) -> list[str]:
    names = ["encoder_kernel", "encoder_bias", "decoder_bias"]
    return names if layer.tied else [*names, "decoder_kernel"]


class StackedAutoencoder:
    """Encoders l1..lN then decoders lN..l1, each filled with its greedily pretrained weights."""

    def __init__(self, layers: dict[str, LayerParams], input_dim: int):
        inputs = keras.Input(shape=(input_dim,), name="pixels")
        self.encoders: dict[str, keras.layers.Dense] = {}
        self.decoders: dict[str, keras.layers.Layer] = {}
        dims = [input_dim]
        codings = inputs
        for name, layer in layers.items():
            self.encoders[name] = encoder_layer(name, layer)
            codings = self.encoders[name](codings)
            dims.append(layer.units)
        outputs = codings
        for (name, layer), output_dim in zip(reversed(layers.items()), reversed(dims[:-1])):
            self.decoders[name] = decoder_layer(name, layer, self.encoders[name], output_dim)
            outputs = self.decoders[name](outputs)
        self.encoder = keras.Model(inputs, codings, name="stacked_encoder")
        self.autoencoder = keras.Model(inputs, outputs, name="stacked_autoencoder")

    def load(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        for name, arrays in weights.items():
            set_layer_weights(self.encoders[name], self.decoders[name], arrays)

    def weights(self) -> dict[str, dict[str, np.ndarray]]:
        return {name: layer_weights(self.encoders[name], self.decoders[name]) for name in self.encoders}


def classifier(
    layers: dict[str, LayerParams], input_dim: int, class_count: int,
    encoder_weights: dict[str, dict[str, np.ndarray]] | None, trainable_encoder: bool,
) -> keras.Model:
    """The encoder stack plus a softmax head; ``encoder_weights=None`` means a random (scratch) start."""
    inputs = keras.Input(shape=(input_dim,), name="pixels")
    hidden = inputs
    for name, layer in layers.items():
        dense = encoder_layer(name, layer, trainable=trainable_encoder)
        hidden = dense(hidden)
        if encoder_weights is not None:
            set_layer_weights(dense, None, encoder_weights[name])
    outputs = keras.layers.Dense(class_count, activation="softmax", name="softmax_head")(hidden)
    return keras.Model(inputs, outputs, name="classifier")

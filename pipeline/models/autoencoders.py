"""The greedy stack's autoencoders, layer by layer dense or convolutional (shallow, stacked, tied, denoising,
sparse), and the classifier built on the encoder stack (the chapter's variational and whole convolutional ones:
:mod:`pipeline.models.generative`).

Weights travel between stages as plain arrays (see :mod:`pipeline.runtime.io`), named after their role, so every
model here is built from params and then filled, never unpickled. Each model is also a plain Keras model
that saves to and loads from a ``.keras`` file (the custom pieces are registered).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import get_args

import keras
import numpy as np

from pipeline.config import LayerParams
from pipeline.errors import ConfigError
from pipeline.models.layers import ConvDecoder, ConvEncoder, DenseTranspose, KLDivergenceRegularizer
from pipeline.schema import Noise, Sparsity


def _initializer(activation: str) -> str:
    # SELU self-normalises only with LeCun-normal initialisation.
    return "lecun_normal" if activation == "selu" else "glorot_uniform"


def layer_spec(name: str, layer: LayerParams) -> dict:
    """What the model builder needs of one pretrain layer (the rest of LayerParams is about training)."""
    return {
        "name": name,
        "units": layer.units,
        "activation": layer.activation,
        "output_activation": layer.output_activation,
        "tied": layer.tied,
        "kind": layer.kind,
        "kernel_size": layer.kernel_size,
    }


def input_grids(input_dim: int, layers: Sequence[Mapping], channels: int = 1) -> list[tuple[int, int, int] | None]:
    """The (side, side, channels) grid each layer reads its flat rows as (None for a dense layer): a conv layer's
    codings are its pooled grid, flattened, so the grid of each is known from the rows below and its filters."""
    grids, size = [], input_dim
    for spec in layers:
        if spec.get("kind", "dense") != "conv":
            grids.append(None)
            size, channels = spec["units"], None
            continue
        side = math.isqrt(size // channels) if channels else 0
        if not channels or side * side * channels != size or side % 2:
            raise ConfigError(
                f"pretrain.layers.{spec['name']}.kind: 'conv' reads its {size} inputs as a square grid of "
                f"{channels or 'unknown'} channels with an even side (a 2x2 pool halves it); they are not"
            )
        grids.append((side, side, channels))
        size, channels = (side // 2) ** 2 * spec["units"], spec["units"]
    return grids


def encoder_layer(spec: Mapping, grid, **settings) -> keras.layers.Layer:
    """One layer's encoder: dense, or (a grid given) convolutions and a 2x2 max-pool, on flat rows either way."""
    initializer = _initializer(spec["activation"])
    name = f"{spec['name']}_encoder"
    if grid is not None:
        return ConvEncoder(
            spec["units"], spec["kernel_size"], grid, spec["activation"], initializer, name=name, **settings
        )
    return keras.layers.Dense(
        spec["units"], activation=spec["activation"], kernel_initializer=initializer, name=name, **settings
    )


def decoder_layer(spec: Mapping, encoder: keras.layers.Layer, grid, output_dim: int) -> keras.layers.Layer:
    """One layer's decoder, back to the rows its encoder read: a transposed convolution for a conv layer, the
    encoder's kernel transposed for a tied one, else a dense layer of its own."""
    activation, name = spec["output_activation"], f"{spec['name']}_decoder"
    if grid is not None:
        side, _, channels = grid
        coded = (side // 2, side // 2, spec["units"])
        return ConvDecoder(channels, spec["kernel_size"], coded, activation, _initializer(activation), name=name)
    if spec["tied"]:
        return DenseTranspose(encoder, activation=activation, name=name)
    return keras.layers.Dense(output_dim, activation=activation, kernel_initializer=_initializer(activation), name=name)


def corruption(noise: str, level: float) -> keras.layers.Layer | None:
    """Denoising: corrupt the input during training only (Keras noise layers are identity at inference)."""
    if noise == "gaussian":
        return keras.layers.GaussianNoise(level, name="gaussian_noise")
    if noise == "dropout":
        return keras.layers.Dropout(level, name="dropout_noise")
    if noise == "none":
        return None
    raise ValueError(f"noise: got '{noise}', must be one of {get_args(Noise)}")


def sparsity_regularizer(sparsity: str, target: float, weight: float):
    if sparsity == "kl":
        return KLDivergenceRegularizer(weight, target)
    if sparsity == "l1":
        return keras.regularizers.L1(weight)
    if sparsity == "none":
        return None
    raise ValueError(f"sparsity: got '{sparsity}', must be one of {get_args(Sparsity)}")


@keras.saving.register_keras_serializable(package="layerwise")
class LayerwiseAutoencoder(keras.Model):
    """Encoders in order, then decoders in reverse; optional input corruption and a sparsity penalty on
    the top codings. Shallow is the one-layer case. Each layer is dense or convolutional, on flat rows either way.

    A functional model that rebuilds itself from its own config on load, so a tied decoder finds its
    encoder again: saving and loading keep the weights shared.
    """

    def __init__(
        self,
        input_dim: int,
        layers: Sequence[Mapping],
        *,
        noise: str = "none",
        noise_level: float = 0.0,
        sparsity: str = "none",
        sparsity_target: float = 0.1,
        sparsity_weight: float = 0.0,
        input_name: str = "pixels",
        input_channels: int = 1,
        **kwargs,
    ):
        layers = [dict(spec) for spec in layers]
        grids = input_grids(input_dim, layers, input_channels)
        inputs = keras.Input(shape=(input_dim,), name=input_name)
        noise_layer = corruption(noise, noise_level)
        hidden = noise_layer(inputs) if noise_layer else inputs
        encoders, dims = [], [input_dim]
        for index, (spec, grid) in enumerate(zip(layers, grids)):
            top = index == len(layers) - 1
            regularizer = sparsity_regularizer(sparsity, sparsity_target, sparsity_weight) if top else None
            encoders.append(encoder_layer(spec, grid, activity_regularizer=regularizer))
            hidden = encoders[-1](hidden)
            dims.append(hidden.shape[-1])
        outputs = hidden
        for spec, encoder, grid, output_dim in reversed(list(zip(layers, encoders, grids, dims[:-1]))):
            outputs = decoder_layer(spec, encoder, grid, output_dim)(outputs)
        super().__init__(inputs, outputs, **kwargs)
        self.spec = {
            "input_dim": input_dim,
            "layers": layers,
            "noise": noise,
            "noise_level": noise_level,
            "sparsity": sparsity,
            "sparsity_target": sparsity_target,
            "sparsity_weight": sparsity_weight,
            "input_name": input_name,
            "input_channels": input_channels,
        }

    def get_config(self):
        return {"name": self.name, **self.spec}

    @property
    def layer_names(self) -> list[str]:
        return [spec["name"] for spec in self.spec["layers"]]

    def encoder_layer(self, name: str) -> keras.layers.Dense:
        return self.get_layer(f"{name}_encoder")

    def decoder_layer(self, name: str) -> keras.layers.Layer:
        return self.get_layer(f"{name}_decoder")

    def encoder(self, upto: str | None = None) -> keras.Model:
        """The encoder stack (up to layer ``upto``, the top by default), sharing this model's weights."""
        top = self.encoder_layer(upto or self.layer_names[-1])
        return keras.Model(self.inputs, top.output, name=f"{self.name}_encoder")

    def load(self, weights: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        for name, arrays in weights.items():
            set_layer_weights(self.encoder_layer(name), self.decoder_layer(name), arrays)

    def weights_by_layer(self) -> dict[str, dict[str, np.ndarray]]:
        return {name: layer_weights(self.encoder_layer(name), self.decoder_layer(name)) for name in self.layer_names}


class ShallowAutoencoder:
    """input -> hidden -> input: one layer of the greedy stack, trained on its own, with the layer's
    own corruption and sparsity options."""

    def __init__(self, name: str, layer: LayerParams, input_dim: int, input_channels: int = 1):
        self.name = name
        self.autoencoder = LayerwiseAutoencoder(
            input_dim,
            [layer_spec(name, layer)],
            noise=layer.noise,
            noise_level=layer.noise_level,
            sparsity=layer.sparsity,
            sparsity_target=layer.sparsity_target,
            sparsity_weight=layer.sparsity_weight,
            input_name=f"{name}_input",
            input_channels=input_channels,
            name=f"{name}_autoencoder",
        )
        self.encoder_dense = self.autoencoder.encoder_layer(name)
        self.decoder = self.autoencoder.decoder_layer(name)
        self.encoder = self.autoencoder.encoder()

    def weights(self) -> dict[str, np.ndarray]:
        return layer_weights(self.encoder_dense, self.decoder)


def layer_weights(encoder: keras.layers.Layer, decoder: keras.layers.Layer) -> dict[str, np.ndarray]:
    arrays = {
        "encoder_kernel": encoder.kernel.numpy(),
        "encoder_bias": encoder.bias.numpy(),
        "decoder_bias": decoder.bias.numpy(),
    }
    if not isinstance(decoder, DenseTranspose):
        arrays["decoder_kernel"] = decoder.kernel.numpy()
    return arrays


def set_layer_weights(
    encoder: keras.layers.Layer, decoder: keras.layers.Layer | None, arrays: Mapping[str, np.ndarray]
) -> None:
    encoder.kernel.assign(arrays["encoder_kernel"])
    encoder.bias.assign(arrays["encoder_bias"])
    if decoder is not None:
        decoder.bias.assign(arrays["decoder_bias"])
        if not isinstance(decoder, DenseTranspose):
            decoder.kernel.assign(arrays["decoder_kernel"])


def weight_names(layer: LayerParams) -> list[str]:
    names = ["encoder_kernel", "encoder_bias", "decoder_bias"]
    return names if layer.tied else [*names, "decoder_kernel"]  # a conv layer is never tied


class StackedAutoencoder:
    """Encoders l1..lN then decoders lN..l1, each filled with its greedily pretrained weights."""

    def __init__(self, layers: Mapping[str, LayerParams], input_dim: int):
        self.autoencoder = LayerwiseAutoencoder(
            input_dim, [layer_spec(name, layer) for name, layer in layers.items()], name="stacked_autoencoder"
        )
        self.encoder = self.autoencoder.encoder()

    def load(self, weights: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        self.autoencoder.load(weights)

    def weights(self) -> dict[str, dict[str, np.ndarray]]:
        return self.autoencoder.weights_by_layer()


def classifier(
    layers: Mapping[str, LayerParams],
    input_dim: int,
    class_count: int,
    encoder_weights: Mapping[str, Mapping[str, np.ndarray]] | None,
    trainable_encoder: bool,
) -> keras.Model:
    """The encoder stack plus a softmax head; ``encoder_weights=None`` means a random (scratch) start."""
    inputs = keras.Input(shape=(input_dim,), name="pixels")
    hidden = inputs
    specs = [layer_spec(name, layer) for name, layer in layers.items()]
    for spec, grid in zip(specs, input_grids(input_dim, specs)):
        encoder = encoder_layer(spec, grid, trainable=trainable_encoder)
        hidden = encoder(hidden)
        if encoder_weights is not None:
            set_layer_weights(encoder, None, encoder_weights[spec["name"]])
    outputs = keras.layers.Dense(class_count, activation="softmax", name="softmax_head")(hidden)
    return keras.Model(inputs, outputs, name="classifier")

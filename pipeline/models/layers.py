"""Custom Keras layers and regularizers of the chapter, each registered so saved models load again."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="layerwise")
class DenseTranspose(keras.layers.Layer):
    """A decoder whose kernel is its encoder's kernel transposed (tied weights): half the parameters.

    Only the bias is its own; the kernel is read from ``dense`` on every call, so training either
    layer trains the shared matrix. It holds a layer, so it is saved as part of a model that rebuilds
    the pair from its own config (:class:`pipeline.models.autoencoders.LayerwiseAutoencoder`).
    """

    def __init__(self, dense: keras.layers.Dense, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(self.dense.kernel.shape[0],), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel)) + self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dense.kernel.shape[0])


@keras.saving.register_keras_serializable(package="layerwise")
class KLDivergenceRegularizer(keras.regularizers.Regularizer):
    """Sparsity: KL divergence between a target activation rate and each coding unit's mean activation.

    Unlike an L1 penalty, it pushes every unit's *average* towards the target, so units stay alive
    but fire rarely. Needs activations in (0, 1) (sigmoid codings).
    """

    def __init__(self, weight: float, target: float = 0.1):
        self.weight = weight
        self.target = target

    def __call__(self, inputs):
        mean_activities = ops.clip(ops.mean(inputs, axis=0), 1e-7, 1 - 1e-7)
        target = self.target
        divergence = target * ops.log(target / mean_activities) + (1 - target) * ops.log(
            (1 - target) / (1 - mean_activities)
        )
        return self.weight * ops.sum(divergence)

    def get_config(self):
        return {"weight": self.weight, "target": self.target}


@keras.saving.register_keras_serializable(package="layerwise")
class Sampling(keras.layers.Layer):
    """The VAE's codings: mean + exp(log_var / 2) * noise, adding the latent (KL) loss to the model.

    The latent loss is scaled by ``latent_weight`` (1 / pixels in the book) so it is comparable with a
    per-pixel MSE.
    """

    def __init__(self, latent_weight: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.latent_weight = latent_weight
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        mean, log_var = inputs
        latent_loss = -0.5 * ops.sum(1 + log_var - ops.exp(log_var) - ops.square(mean), axis=-1)
        self.add_loss(self.latent_weight * ops.mean(latent_loss))
        noise = keras.random.normal(ops.shape(log_var), seed=self.seed_generator)
        return mean + ops.exp(log_var / 2) * noise

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "latent_weight": self.latent_weight, "seed": self.seed}


class _FlatConv(keras.layers.Layer):
    """A convolution of the greedy stack that reads and writes flat rows: the cached codings, the probes and the
    classifier heads above it see arrays as from a dense layer, and its weights keep a dense layer's names
    (``kernel``, ``bias``). ``grid`` is the (side, side, channels) shape its rows are read as."""

    def __init__(self, conv: keras.layers.Layer, grid, output_size: int, settings: dict, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(int(size) for size in grid)
        self.conv = conv
        self.conv.trainable = self.trainable
        self.output_size = output_size
        self.settings = settings  # the subclass's own arguments, for its config

    def build(self, input_shape):
        self.conv.build((None, *self.grid))
        super().build(input_shape)

    @property
    def kernel(self):
        return self.conv.kernel

    @property
    def bias(self):
        return self.conv.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid, **self.settings}


@keras.saving.register_keras_serializable(package="layerwise")
class ConvEncoder(_FlatConv):
    """The convolutional layer of the greedy stack: ``filters`` convolutions ('same' padding), then a 2x2 max-pool,
    as in the chapter's convolutional autoencoder; the pooled grid, flattened, is the layer's codings."""

    def __init__(self, filters, kernel_size, grid, activation=None, kernel_initializer="glorot_uniform", **kwargs):
        conv = keras.layers.Conv2D(
            filters, kernel_size, padding="same", activation=activation, kernel_initializer=kernel_initializer
        )
        settings = {"filters": filters, "kernel_size": kernel_size, "activation": activation}
        output_size = (grid[0] // 2) ** 2 * filters
        super().__init__(conv, grid, output_size, {**settings, "kernel_initializer": kernel_initializer}, **kwargs)

    def call(self, inputs):
        pooled = ops.max_pool(self.conv(ops.reshape(inputs, (-1, *self.grid))), pool_size=2, strides=2)
        return ops.reshape(pooled, (-1, self.output_size))


@keras.saving.register_keras_serializable(package="layerwise")
class ConvDecoder(_FlatConv):
    """A :class:`ConvEncoder`'s decoder: a transposed convolution of stride 2 from its pooled codings (``grid``) back
    to the grid and ``channels`` of its input, flattened."""

    def __init__(self, channels, kernel_size, grid, activation=None, kernel_initializer="glorot_uniform", **kwargs):
        conv = keras.layers.Conv2DTranspose(
            channels,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            kernel_initializer=kernel_initializer,
        )
        settings = {"channels": channels, "kernel_size": kernel_size, "activation": activation}
        output_size = (2 * grid[0]) ** 2 * channels
        super().__init__(conv, grid, output_size, {**settings, "kernel_initializer": kernel_initializer}, **kwargs)

    def call(self, inputs):
        return ops.reshape(self.conv(ops.reshape(inputs, (-1, *self.grid))), (-1, self.output_size))

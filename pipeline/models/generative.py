"""The chapter's autoencoders beyond the dense stack: variational (generates images) and convolutional."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from pipeline.models.layers import Sampling


def variational_autoencoder(
    input_dim: int, units: Sequence[int], codings: int, seed: int
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """The book's VAE: encoder -> (mean, log variance) -> sampled codings -> decoder; returns (vae, encoder, decoder).

    The latent loss is divided by the pixel count, as in the book, to weigh it against a per-pixel MSE.
    """
    inputs = keras.Input(shape=(input_dim,), name="pixels")
    hidden = inputs
    for index, size in enumerate(units):
        hidden = keras.layers.Dense(
            size, activation="selu", kernel_initializer="lecun_normal", name=f"encoder_{index + 1}"
        )(hidden)
    mean = keras.layers.Dense(codings, name="codings_mean")(hidden)
    log_var = keras.layers.Dense(codings, name="codings_log_var")(hidden)
    sampled = Sampling(latent_weight=1 / input_dim, seed=seed, name="sampling")([mean, log_var])
    encoder = keras.Model(inputs, [mean, log_var, sampled], name="variational_encoder")

    decoder_inputs = keras.Input(shape=(codings,), name="codings")
    hidden = decoder_inputs
    for index, size in enumerate(reversed(units)):
        hidden = keras.layers.Dense(
            size, activation="selu", kernel_initializer="lecun_normal", name=f"decoder_{index + 1}"
        )(hidden)
    decoder = keras.Model(
        decoder_inputs,
        keras.layers.Dense(input_dim, activation="sigmoid", name="pixels_out")(hidden),
        name="variational_decoder",
    )
    vae = keras.Model(inputs, decoder(encoder(inputs)[2]), name="variational_autoencoder")
    return vae, encoder, decoder


def convolutional_autoencoder(side: int, filters: Sequence[int], codings: int) -> tuple[keras.Model, keras.Model]:
    """Conv + max-pool encoder down to ``codings`` numbers, transposed-conv decoder back up; (autoencoder, encoder).

    Images travel flat (as every other stage stores them) and are reshaped inside the model.
    """
    if side % (2 ** len(filters)):
        raise ValueError(
            f"convolutional autoencoder: image side {side} must be divisible by 2**{len(filters)} "
            "(one pooling per filter size)"
        )
    inputs = keras.Input(shape=(side * side,), name="pixels")
    hidden = keras.layers.Reshape((side, side, 1))(inputs)
    for count in filters:
        hidden = keras.layers.Conv2D(count, 3, padding="same", activation="selu", kernel_initializer="lecun_normal")(
            hidden
        )
        hidden = keras.layers.MaxPool2D(2)(hidden)
    codes = keras.layers.Dense(codings, activation="selu", kernel_initializer="lecun_normal", name="codings")(
        keras.layers.Flatten()(hidden)
    )
    encoder = keras.Model(inputs, codes, name="conv_encoder")

    small = side // 2 ** len(filters)
    hidden = keras.layers.Dense(small * small * filters[-1], activation="selu", kernel_initializer="lecun_normal")(
        codes
    )
    hidden = keras.layers.Reshape((small, small, filters[-1]))(hidden)
    for count in reversed(filters[:-1]):
        hidden = keras.layers.Conv2DTranspose(
            count, 3, strides=2, padding="same", activation="selu", kernel_initializer="lecun_normal"
        )(hidden)
    hidden = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")(hidden)
    outputs = keras.layers.Reshape((side * side,))(hidden)
    return keras.Model(inputs, outputs, name="conv_autoencoder"), encoder

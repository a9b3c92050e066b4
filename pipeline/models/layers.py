"""Custom Keras layers of the chapter."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="layerwise")
class DenseTranspose(keras.layers.Layer):
    """A decoder whose kernel is its encoder's kernel transposed (tied weights): half the parameters.

    Only the bias is its own; the kernel is read from ``dense`` on every call, so training either
    layer trains the shared matrix.
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

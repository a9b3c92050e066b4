"""A semi-supervised autoencoder: encoder, softmax head and stacked decoder trained together.

In the spirit of ladder networks (Rasmus et al., 2015), without their lateral connections and per-layer
costs: Gaussian noise corrupts the input, the head learns the labels of the labelled batch (cross-entropy)
and the decoder reconstructs the clean unlabelled batch from its corrupted codings (mean squared error),
so the unlabelled images keep the encoder a good autoencoder while the labels shape it.
"""

from __future__ import annotations

import json

import numpy as np

from pipeline.fewlabel.autoencoder import Params
from pipeline.fewlabel.common import Problem, scores
from pipeline.training import STEPS_PER_EXECUTION


def batches(labelled_count: int, pool_count: int, params: Params, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the rows of one labelled and one unlabelled batch: shuffled passes, a pure function of the seed."""
    rng = np.random.default_rng(seed)

    def passes(count: int, size: int) -> np.ndarray:
        needed = params.steps * size
        order = np.concatenate([rng.permutation(count) for _ in range(-(-needed // count))])
        return order[:needed].reshape(params.steps, size)

    return passes(labelled_count, params.labelled_batch), passes(pool_count, params.unlabelled_batch)


def train(problem: Problem, params: Params, pretrained: bool) -> dict[str, float]:
    return scores(fit_semi_supervised(problem, params, pretrained), problem)


def fit_semi_supervised(problem: Problem, params: Params, pretrained: bool):
    """The encoder + head after ``params.steps`` steps; under a distribution strategy each replica takes its
    share of every step's labelled and unlabelled batch (the same global batches, noise included)."""
    import tensorflow as tf

    from pipeline.training import distributed, reset_optimizer

    fresh = SemiSupervised(problem, params, pretrained)
    trainer = fresh
    if problem.twins is not None and not distributed():
        # the stage's draws train one architecture: its compiled steps are kept, and this draw starts them from
        # its fresh model's weights and a fresh optimizer (the same steps as a fresh compile, tested)
        trainer = problem.twins.kept(fresh.key(), lambda: fresh)
        trainer.take_weights(fresh)
        reset_optimizer(trainer.optimizer)
    learn_chunk = replicated(trainer.learn, params) if distributed() else trainer.learn_steps
    x_labelled, y_labelled = problem.labelled
    labelled_rows, pool_rows = batches(len(y_labelled), len(problem.pool), params, problem.seed)
    for first in range(0, params.steps, STEPS_PER_EXECUTION):
        steps = slice(first, first + STEPS_PER_EXECUTION)
        rows = labelled_rows[steps]
        shape = (len(rows), rows.shape[1] + pool_rows.shape[1], problem.pool.shape[1])
        noise = tf.random.stateless_normal(shape, [problem.seed, first])
        learn_chunk(x_labelled[rows], y_labelled[rows], problem.images(pool_rows[steps]), noise)
    fresh.take_weights(trainer)
    return fresh.model


class SemiSupervised:
    """The classifier (encoder + head), the stack's decoder and one Adam step on a labelled and an unlabelled batch:
    cross-entropy on the labelled, plus the denoising reconstruction, through the decoder, of the unlabelled."""

    def __init__(self, problem: Problem, params: Params, pretrained: bool):
        import keras
        import tensorflow as tf

        from pipeline.models.autoencoders import StackedAutoencoder

        self.problem, self.params = problem, params
        self.stacked = StackedAutoencoder(problem.layers, problem.pool.shape[1])
        if pretrained:
            self.stacked.load(problem.weights)
        self.head = keras.layers.Dense(problem.class_count, activation="softmax", name="softmax_head")
        self.model = keras.Model(
            self.stacked.encoder.inputs, self.head(self.stacked.encoder.outputs[0]), name="classifier"
        )
        self.decoder_layers = [self.stacked.autoencoder.decoder_layer(name) for name in reversed(list(problem.layers))]
        self.variables = self.model.trainable_variables + [
            v
            for layer in self.decoder_layers
            for v in layer.trainable_variables
            if not any(v is w for w in self.model.trainable_variables)
        ]
        self.optimizer = keras.optimizers.Adam(params.learning_rate)
        self.optimizer.build(self.variables)
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy()
        # STEPS_PER_EXECUTION steps per call, one XLA program, as training.fit runs Keras. The batches and the
        # noise come in as arguments: a seed computed inside would be a compile-time constant to XLA.
        self.learn_steps = tf.function(self._learn_steps, jit_compile=True)

    def key(self) -> str:
        """What the compiled steps depend on: the layers, the recipe's params and the problem's shape."""
        problem = self.problem
        layers = {name: layer.model_dump() for name, layer in problem.layers.items()}
        return json.dumps(["autoencoder", layers, self.params.model_dump(), problem.pool.shape[1], problem.class_count])

    def take_weights(self, other: SemiSupervised) -> None:
        """``other``'s weights (its model's and its decoder's)."""
        if other is not self:
            for mine, theirs in zip(self.variables, other.variables, strict=True):
                mine.assign(theirs)

    def _learn_steps(self, labelled, labels, unlabelled, noise):
        import tensorflow as tf

        for index in tf.range(tf.shape(labels)[0]):
            self.learn(labelled[index], labels[index], unlabelled[index], noise[index])

    def learn(self, labelled, labels, unlabelled, noise, replica_share: bool = False):
        import keras
        import tensorflow as tf

        params = self.params
        noisy = tf.concat([labelled, unlabelled], axis=0) + params.noise_stddev * noise
        with tf.GradientTape() as tape:
            codings = self.stacked.encoder(noisy, training=True)
            count = tf.shape(labelled)[0]
            reconstruction = codings[count:]
            for layer in self.decoder_layers:
                reconstruction = layer(reconstruction)
            if replica_share:  # sums over the global batch sizes: Keras's optimizer sums the replicas' gradients
                cross = keras.losses.sparse_categorical_crossentropy(labels, self.head(codings[:count]))
                loss = tf.reduce_sum(cross) / params.labelled_batch  # 0 for an empty share
                squares = tf.reduce_sum(tf.square(reconstruction - unlabelled))
                loss += params.reconstruction_weight * squares / (params.unlabelled_batch * self.problem.pool.shape[1])
            else:
                loss = self.cross_entropy(labels, self.head(codings[:count]))
                loss += params.reconstruction_weight * tf.reduce_mean(tf.square(reconstruction - unlabelled))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.variables), self.variables))


def replicated(learn, params: Params):
    """``learn`` on every replica of the strategy in scope, one step per call, as training.fit runs under a
    strategy; each replica its share of the rows."""
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    labelled_shares = np.array_split(np.arange(params.labelled_batch), strategy.num_replicas_in_sync)
    unlabelled_shares = np.array_split(np.arange(params.unlabelled_batch), strategy.num_replicas_in_sync)

    @tf.function
    def learn_step_distributed(shares):
        strategy.run(lambda share: learn(*share, replica_share=True), args=(shares,))

    def learn_distributed(labelled, labels, unlabelled, noise):
        noise = noise.numpy()
        for index in range(len(labels)):

            def share(context, index=index):
                mine = labelled_shares[context.replica_id_in_sync_group]
                theirs = unlabelled_shares[context.replica_id_in_sync_group]
                rows_noise = np.concatenate([mine, params.labelled_batch + theirs])
                step = (labelled[index][mine], labels[index][mine], unlabelled[index][theirs], noise[index][rows_noise])
                return tuple(tf.constant(part) for part in step)

            learn_step_distributed(strategy.experimental_distribute_values_from_function(share))

    return learn_distributed

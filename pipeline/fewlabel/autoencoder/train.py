"""A semi-supervised autoencoder: encoder, softmax head and stacked decoder trained together.

In the spirit of ladder networks (Rasmus et al., 2015), without their lateral connections and per-layer
costs: Gaussian noise corrupts the input, the head learns the labels of the labelled batch (cross-entropy)
and the decoder reconstructs the clean unlabelled batch from its corrupted codings (mean squared error),
so the unlabelled images keep the encoder a good autoencoder while the labels shape it.
"""

from __future__ import annotations

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

    from pipeline.training import distributed

    model, learn = learning_step(problem, params, pretrained)

    # STEPS_PER_EXECUTION steps per call, one XLA program, as training.fit runs Keras. The batches and the
    # noise come in as arguments: a seed computed inside would be a compile-time constant to XLA.
    @tf.function(jit_compile=True)
    def learn_steps(labelled, labels, unlabelled, noise):
        for index in tf.range(tf.shape(labels)[0]):
            learn(labelled[index], labels[index], unlabelled[index], noise[index])

    learn_chunk = replicated(learn, params) if distributed() else learn_steps
    x_labelled, y_labelled = problem.labelled
    labelled_rows, pool_rows = batches(len(y_labelled), len(problem.pool), params, problem.seed)
    for first in range(0, params.steps, STEPS_PER_EXECUTION):
        steps = slice(first, first + STEPS_PER_EXECUTION)
        rows = labelled_rows[steps]
        shape = (len(rows), rows.shape[1] + pool_rows.shape[1], problem.pool.shape[1])
        noise = tf.random.stateless_normal(shape, [problem.seed, first])
        learn_chunk(x_labelled[rows], y_labelled[rows], problem.images(pool_rows[steps]), noise)
    return model


def learning_step(problem: Problem, params: Params, pretrained: bool):
    """The classifier (encoder + head) and one Adam step on a labelled and an unlabelled batch: cross-entropy
    on the labelled, plus the denoising reconstruction, through the stack's decoder, of the unlabelled."""
    import keras
    import tensorflow as tf

    from pipeline.models.autoencoders import StackedAutoencoder

    stacked = StackedAutoencoder(problem.layers, problem.pool.shape[1])
    if pretrained:
        stacked.load(problem.weights)
    head = keras.layers.Dense(problem.class_count, activation="softmax", name="softmax_head")
    model = keras.Model(stacked.encoder.inputs, head(stacked.encoder.outputs[0]), name="classifier")
    decoder_layers = [stacked.autoencoder.decoder_layer(name) for name in reversed(list(problem.layers))]
    variables = model.trainable_variables + [
        v
        for layer in decoder_layers
        for v in layer.trainable_variables
        if not any(v is w for w in model.trainable_variables)
    ]
    optimizer = keras.optimizers.Adam(params.learning_rate)
    optimizer.build(variables)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy()

    def learn(labelled, labels, unlabelled, noise, replica_share: bool = False):
        noisy = tf.concat([labelled, unlabelled], axis=0) + params.noise_stddev * noise
        with tf.GradientTape() as tape:
            codings = stacked.encoder(noisy, training=True)
            count = tf.shape(labelled)[0]
            reconstruction = codings[count:]
            for layer in decoder_layers:
                reconstruction = layer(reconstruction)
            if replica_share:  # sums over the global batch sizes: Keras's optimizer sums the replicas' gradients
                cross = keras.losses.sparse_categorical_crossentropy(labels, head(codings[:count]))
                loss = tf.reduce_sum(cross) / params.labelled_batch  # 0 for an empty share
                squares = tf.reduce_sum(tf.square(reconstruction - unlabelled))
                loss += params.reconstruction_weight * squares / (params.unlabelled_batch * problem.pool.shape[1])
            else:
                loss = cross_entropy(labels, head(codings[:count]))
                loss += params.reconstruction_weight * tf.reduce_mean(tf.square(reconstruction - unlabelled))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    return model, learn


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

"""The plain recipe: encoder stack + softmax head trained on the labelled images only.

``frozen`` keeps the encoder fixed and trains the head alone: a linear probe of the codings.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import SupervisedParams
from pipeline.fewlabel import Problem


def train(problem: Problem, params: SupervisedParams, pretrained: bool, trainable_encoder: bool = True) -> dict[str, float]:
    import keras

    from pipeline.models.autoencoders import classifier
    from pipeline.training import fit

    model = classifier(problem.layers, problem.pool.shape[1], problem.class_count,
                       encoder_weights=problem.weights if pretrained else None, trainable_encoder=trainable_encoder)
    callbacks = []
    if problem.validation is not None:
        callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", patience=10, restore_best_weights=True))
    fit(model, *problem.labelled, epochs=params.epochs, batch_size=params.batch_size, learning_rate=params.learning_rate,
        loss="sparse_categorical_crossentropy", metrics=["accuracy"], validation_data=problem.validation, callbacks=callbacks)
    return scores(model, problem)


def scores(model, problem: Problem) -> dict[str, float]:
    """Test accuracy, and the accuracy on the labelled images with the weights kept."""
    _, test_accuracy = model.evaluate(*problem.test, batch_size=1024, verbose=0)
    _, train_accuracy = model.evaluate(*problem.labelled, batch_size=1024, verbose=0)
    return {
        "test_accuracy": float(test_accuracy),
        "train_accuracy": float(train_accuracy),
        "labels_seen": int(len(problem.labels) + (len(problem.validation[1]) if problem.validation is not None else 0)),
        "trainable_parameters": int(sum(np.prod(weight.shape) for weight in model.trainable_weights)),
    }

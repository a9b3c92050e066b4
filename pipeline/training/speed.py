"""The optional speed layer of :func:`~pipeline.training.fit`: XLA where it pays, several steps per call into the
compiled train step, and compiled models reused across a stage's draws. None of it changes what is learnt."""

from __future__ import annotations

import json

import numpy as np

from pipeline.training.distributed import distributed

# Batches per call into the compiled train step: fewer Python round trips per epoch (the benchmark's choice).
STEPS_PER_EXECUTION = 32
# Below this many train steps XLA's compile time (a second or two) costs more than it saves.
XLA_MIN_STEPS = 2000


def xla_pays(model, steps: int) -> bool:
    """Whether XLA speeds up ``steps`` train steps of ``model`` on this CPU-only pipeline.

    Measured on 2 cores against Keras without XLA: dense layers train about 2x faster (benchmarks/throughput.py);
    but a layer drawing random numbers (Gaussian noise, dropout, the VAE's sampling: every layer with a seed
    generator) 7 to 13x slower, since XLA's CPU random-number kernels are slow, and convolutions 2.6x slower than
    oneDNN's. A 100-label classifier (200 steps) trains in 1.6 to 2 s without XLA, 2.9 to 3.3 s with it.
    """
    import keras

    convolutions = (
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.Conv3DTranspose,
        keras.layers.DepthwiseConv2D,
        keras.layers.SeparableConv2D,
    )
    return steps >= XLA_MIN_STEPS and not any(
        isinstance(layer, convolutions) or hasattr(layer, "seed_generator") for layer in model._flatten_layers()
    )


def compile_for_speed(model, **settings) -> None:
    """Compile with Adam, several steps per execution and XLA where it pays (:func:`xla_pays`): about twice
    Keras's default speed on CPU, with the same loss. Under a distribution strategy: one step per execution, no
    XLA (Keras 3.15 fails with several steps per execution under MirroredStrategy)."""
    import keras

    compiled = compile_settings(model, **settings)
    model.compile(optimizer=keras.optimizers.Adam(compiled.pop("learning_rate")), **compiled)


def compile_settings(model, *, learning_rate: float, loss, metrics: list[str] | None = None, steps: int) -> dict:
    """What :func:`compile_for_speed` compiles ``model`` with, for a training of ``steps`` steps (the number matters
    only to :func:`xla_pays`)."""
    one_device = not distributed()
    return dict(
        learning_rate=learning_rate,
        loss=loss,
        metrics=metrics or [],
        jit_compile=one_device and xla_pays(model, steps),
        steps_per_execution=STEPS_PER_EXECUTION if one_device else 1,
    )


class CompiledTwins:
    """Compiled models that a stage reuses while it trains one architecture on each of its label draws: the train
    step is traced (and XLA-compiled) once, not once a draw (0.4 to 1.5 s each time). The stage creates one and
    passes it to every :func:`~pipeline.training.fit` of its draws; it lives as long as the stage keeps it.
    """

    def __init__(self):
        self._compiled: dict[str, object] = {}
        self._predictors: dict[str, object] = {}
        self._kept: dict[str, object] = {}

    def trainer(self, model, settings: dict):
        """A compiled model of ``model``'s architecture for these compile ``settings`` (:func:`compile_for_speed`),
        its weights set to ``model``'s and its optimizer state to a fresh one's: a fresh optimizer's state is zero,
        so the steps are those of a freshly compiled model (tested). The twin is built with zero initial weights:
        cloning must not draw from the seeded generators, or the models built after it would start from other
        weights."""
        import keras

        compiled = compile_settings(model, **settings)
        key = json.dumps([architecture(model), {name: repr(value) for name, value in compiled.items()}])
        twin = self._compiled.get(key)
        if twin is None:
            twin = self._compiled[key] = keras.models.clone_model(model, clone_function=_without_random_draws)
            compile_for_speed(twin, **settings)
            twin.optimizer.build(twin.trainable_variables)
        else:
            reset_optimizer(twin.optimizer)
        twin.set_weights(model.get_weights())
        return twin

    def kept(self, key: str, make):
        """What ``make()`` built the first time ``key`` was asked for: a recipe with its own compiled train step
        keeps it here for the stage's other draws."""
        if key not in self._kept:
            self._kept[key] = make()
        return self._kept[key]

    def predictor(self, model):
        """A model of ``model``'s architecture holding its weights, to predict with: its predict function is traced
        once for all the stage's draws, where each draw's new model traced its own (0.1 to 0.2 s a call). Only for
        a model never compiled, whose predictions run the same way (Keras uses no XLA for it on a CPU)."""
        import keras

        if model.compiled or distributed():
            return model
        key = json.dumps(architecture(model))
        twin = self._predictors.get(key)
        if twin is None:
            twin = self._predictors[key] = keras.models.clone_model(model, clone_function=_without_random_draws)
        twin.set_weights(model.get_weights())
        return twin


def reset_optimizer(optimizer) -> None:
    """A fresh optimizer's state, zero, its learning rate kept: the steps that follow are those of a fresh compile."""
    for variable in optimizer.variables:
        if variable.name != "learning_rate":
            variable.assign(np.zeros(variable.shape, variable.dtype))


def architecture(model) -> object:
    """``model``'s config with the names of its layers replaced by their order of first appearance: the same
    architecture built twice compares equal, though Keras numbers the names it makes up (``input_layer``,
    ``input_layer_1``, ...)."""
    layer_names = {layer.name for layer in model._flatten_layers(include_self=True)}
    names: dict[str, str] = {}

    def renamed(name: str) -> str:
        return names.setdefault(name, f"#{len(names)}")

    def walk(node, key=None):
        if isinstance(node, dict):
            return {k: renamed(v) if k == "name" and v in layer_names else walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            if key in NAMED_REFERENCES and node and isinstance(node[0], str):  # [layer name, node, tensor]
                return [renamed(node[0]), *node[1:]]
            return [walk(item, key) for item in node]
        return node

    return walk(json.loads(model.to_json()))


# Where a Keras config refers to a layer by its name: a tensor's history and a functional model's ends.
NAMED_REFERENCES = ("keras_history", "input_layers", "output_layers")


def _without_random_draws(layer):
    """A copy of ``layer`` whose initial weights are zeros: building it draws no random numbers."""
    config = layer.get_config()
    return layer.__class__.from_config(
        {name: "zeros" if name.endswith("_initializer") else value for name, value in config.items()}
    )

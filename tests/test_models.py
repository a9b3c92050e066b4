import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from pipeline.config import LayerParams, PretrainParams, StackParams  # noqa: E402
from pipeline.errors import ConfigError  # noqa: E402
from pipeline.fewlabel import recipe  # noqa: E402
from pipeline.fewlabel.common import Problem  # noqa: E402
from pipeline.greedy import pretrain_layer, stack_layers  # noqa: E402
from pipeline.models.autoencoders import ShallowAutoencoder, StackedAutoencoder, classifier  # noqa: E402
from pipeline.training import Checkpoint, fingerprint, make_deterministic  # noqa: E402

LAYERS = {
    "l1": LayerParams(input="pixels", units=12, output_activation="sigmoid", epochs=4, batch_size=16),
    "l2": LayerParams(input="l1", units=6, tied=True, epochs=4, batch_size=16),
}


@pytest.fixture(scope="module")
def pixels():
    rng = np.random.default_rng(0)
    basis = rng.random((4, 64), dtype=np.float32)
    make = lambda n: (rng.random((n, 4), dtype=np.float32) @ basis / 4).clip(0, 1)  # noqa: E731
    return {"train": make(200), "valid": make(40), "test": make(40)}


def test_tied_decoder_shares_the_encoder_kernel():
    model = ShallowAutoencoder("t", LAYERS["l2"], input_dim=10)
    assert set(model.weights()) == {"encoder_kernel", "encoder_bias", "decoder_bias"}
    untied = ShallowAutoencoder("u", LAYERS["l1"], input_dim=10)
    assert model.autoencoder.count_params() == 10 * 6 + 6 + 10
    assert untied.autoencoder.count_params() == 2 * 10 * 12 + 12 + 10
    model.encoder_dense.kernel.assign(np.ones((10, 6), np.float32))
    out = model.autoencoder.predict(np.ones((1, 10), np.float32), verbose=0)
    codings = keras.activations.selu(np.full((1, 6), 10.0, np.float32))
    assert np.allclose(out, np.asarray(codings) @ np.ones((6, 10)), rtol=1e-5)


def test_greedy_layers_stack_into_the_same_function(pixels):
    make_deterministic(0)
    first = pretrain_layer("l1", LAYERS["l1"], pixels, seed=0)
    assert first.history["loss"].iloc[-1] < first.history["loss"].iloc[0], "training must lower the loss"
    assert first.codings["train"].shape == (200, 12)
    second = pretrain_layer("l2", LAYERS["l2"], first.codings, seed=0)
    assert second.codings["test"].shape == (40, 6)

    stacked = StackedAutoencoder(LAYERS, 64)
    stacked.load({"l1": first.weights, "l2": second.weights})
    # The stacked encoder must compute exactly the cached codings of the top layer.
    assert np.allclose(stacked.encoder.predict(pixels["test"], verbose=0), second.codings["test"], atol=1e-5)

    result = stack_layers(
        LAYERS,
        {"l1": first.weights, "l2": second.weights},
        pixels,
        StackParams(finetune_epochs=3, batch_size=16),
        seed=0,
    )
    assert result.metrics["test_mse_after_finetune"] < result.metrics["test_mse_before_finetune"]
    assert result.reconstructions["after"].shape == (40, 64)
    assert set(result.weights["l2"]) == {"encoder_kernel", "encoder_bias", "decoder_bias"}


CONV_LAYERS = {  # the fixture's 64 pixels as an 8x8 grid: 4x4x4 codings, then 2x2x6, then 5 dense units
    "l1": LayerParams(input="pixels", kind="conv", units=4, output_activation="sigmoid", epochs=3, batch_size=16),
    "l2": LayerParams(input="l1", kind="conv", units=6, kernel_size=1, epochs=3, batch_size=16),
    "l3": LayerParams(input="l2", units=5, epochs=3, batch_size=16),
}


def test_greedy_conv_layers_read_the_codings_below_as_a_grid_and_stack_into_the_same_function(pixels, tmp_path):
    pretrain = PretrainParams(layers=CONV_LAYERS)
    features, weights = pixels, {}
    for name, layer in CONV_LAYERS.items():
        make_deterministic(0)
        result = pretrain_layer(name, layer, features, seed=0, input_channels=pretrain.input_channels(name))
        assert result.history["loss"].iloc[-1] < result.history["loss"].iloc[0], name
        features, weights[name] = result.codings, result.weights
        assert set(result.weights) == {"encoder_kernel", "encoder_bias", "decoder_kernel", "decoder_bias"}
    assert weights["l1"]["encoder_kernel"].shape == (3, 3, 1, 4)
    assert weights["l2"]["encoder_kernel"].shape == (1, 1, 4, 6)
    assert weights["l3"]["encoder_kernel"].shape == (2 * 2 * 6, 5) and features["test"].shape == (40, 5)

    # l1's codings are the chapter's convolution then 2x2 max-pool of the image, flattened channels last.
    image = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="selu")])
    image.layers[0].set_weights([weights["l1"]["encoder_kernel"], weights["l1"]["encoder_bias"]])
    convolved = image.predict(pixels["test"].reshape(-1, 8, 8, 1), verbose=0)
    pooled = convolved.reshape(-1, 4, 2, 4, 2, 4).max(axis=(2, 4)).reshape(-1, 64)
    l1 = ShallowAutoencoder("l1", CONV_LAYERS["l1"], 64)
    l1.autoencoder.load({"l1": weights["l1"]})
    assert np.allclose(l1.encoder.predict(pixels["test"], verbose=0), pooled, atol=1e-6)

    stacked = StackedAutoencoder(CONV_LAYERS, 64)
    stacked.load(weights)
    assert np.allclose(stacked.encoder.predict(pixels["test"], verbose=0), features["test"], atol=1e-5)
    assert stacked.autoencoder.predict(pixels["test"], verbose=0).shape == (40, 64)
    frozen = classifier(CONV_LAYERS, 64, 3, weights, trainable_encoder=False)
    assert [w.name for w in frozen.trainable_weights] == ["kernel", "bias"]  # the head's only
    encoder = keras.Model(frozen.inputs, frozen.get_layer("l3_encoder").output)
    assert np.allclose(encoder.predict(pixels["test"], verbose=0), features["test"], atol=1e-5)
    for layer in (stacked.autoencoder.encoder_layer("l2"), stacked.autoencoder.decoder_layer("l2")):
        rebuilt = keras.layers.deserialize(keras.layers.serialize(layer))  # each layer's own config builds it again
        assert (type(rebuilt), rebuilt.grid, rebuilt.output_size) == (type(layer), layer.grid, layer.output_size)
    path = tmp_path / "stacked.keras"
    stacked.autoencoder.save(path)
    loaded = keras.models.load_model(path)
    assert np.array_equal(
        loaded.predict(pixels["test"], verbose=0), stacked.autoencoder.predict(pixels["test"], verbose=0)
    )


@pytest.mark.parametrize("input_dim", [10, 81])  # no square grid; a 9x9 one, whose odd side no 2x2 pool halves
def test_a_conv_layer_on_rows_that_are_no_even_square_grid_is_refused_in_one_line(input_dim):
    layer = LayerParams(input="pixels", kind="conv", units=4)
    with pytest.raises(ConfigError, match=r"^pretrain.layers.l1.kind: 'conv' reads its \d+ inputs as a square grid"):
        ShallowAutoencoder("l1", layer, input_dim)


def test_a_conv_layer_cannot_be_tied():
    with pytest.raises(ValueError, match="a 'conv' layer cannot be tied"):
        LayerParams(input="pixels", kind="conv", units=4, tied=True)


def test_classifier_inits(pixels):
    make_deterministic(0)
    weights = {
        name: ShallowAutoencoder(name, layer, 64 if name == "l1" else 12).weights() for name, layer in LAYERS.items()
    }
    frozen = classifier(LAYERS, 64, 3, weights, trainable_encoder=False)
    assert [w.name for w in frozen.trainable_weights] == ["kernel", "bias"]
    assert np.array_equal(frozen.get_layer("l1_encoder").kernel.numpy(), weights["l1"]["encoder_kernel"])
    scratch = classifier(LAYERS, 64, 3, None, trainable_encoder=True)
    assert not np.array_equal(scratch.get_layer("l1_encoder").kernel.numpy(), weights["l1"]["encoder_kernel"])

    labels = (pixels["train"][:, 0] > np.median(pixels["train"][:, 0])).astype(int)
    test_labels = (pixels["test"][:, 0] > np.median(pixels["train"][:, 0])).astype(int)
    params = recipe("supervised").params(steps=390, batch_size=16)
    test = (pixels["test"], test_labels)
    problem = Problem(
        layers=LAYERS,
        weights=weights,
        pool=pixels["train"],
        labelled_rows=np.arange(200),
        labels=labels,
        test=test,
        class_count=2,
        seed=0,
    )
    result = recipe("supervised").train().train(problem, params, pretrained=True)
    assert result["labels_seen"] == 200
    assert result["test_accuracy"] > 0.7
    few = Problem(
        layers=LAYERS,
        weights=weights,
        pool=pixels["train"],
        labelled_rows=np.arange(20),
        labels=labels[:20],
        test=test,
        class_count=2,
        seed=0,
        validation=(pixels["valid"], labels[:40]),
    )
    with_valid = recipe("frozen").train().train(few, params, pretrained=True)
    assert with_valid["labels_seen"] == 60 and with_valid["trainable_parameters"] == 6 * 2 + 2


def test_training_is_deterministic(pixels):
    runs = []
    for _ in range(2):
        make_deterministic(7)
        runs.append(pretrain_layer("l1", LAYERS["l1"], pixels, seed=7))
    for name, array in runs[0].weights.items():
        assert array.tobytes() == runs[1].weights[name].tobytes(), name
    assert runs[0].codings["train"].tobytes() == runs[1].codings["train"].tobytes()


class StopAfterEpoch(keras.callbacks.Callback):
    """What Ctrl-C does to a fit: KeyboardInterrupt at an epoch's end, before its checkpoint is written."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("layer", ["l1", "l2"])
def test_interrupted_training_resumes_to_the_same_bytes(pixels, tmp_path, layer):
    params = LAYERS[layer].model_copy(update={"input": "pixels"})
    settings = {"seed": 3, **params.model_dump()}

    from pipeline.runtime import io

    io.write_arrays(tmp_path / "inputs", pixels)

    def train(directory, callbacks=()):
        make_deterministic(3)
        checkpoint = Checkpoint(tmp_path / directory, fingerprint(settings, [tmp_path / "inputs"]))
        model = ShallowAutoencoder(layer, params, 64)
        from pipeline.training import fit

        history = fit(
            model.autoencoder,
            pixels["train"],
            pixels["train"],
            epochs=params.epochs,
            batch_size=params.batch_size,
            learning_rate=params.learning_rate,
            loss="mse",
            seed=3,
            checkpoint=checkpoint,
            validation_data=(pixels["valid"], pixels["valid"]),
            callbacks=list(callbacks),
        )
        return model.weights(), history

    whole_weights, whole_history = train("whole")
    with pytest.raises(KeyboardInterrupt):
        train("interrupted", [StopAfterEpoch(3)])
    state = (tmp_path / "interrupted" / Checkpoint.STATE).read_text()
    assert '"epoch": 2' in state, "the checkpoint holds the last finished epoch"
    resumed_weights, resumed_history = train("interrupted")
    for name, array in whole_weights.items():
        assert array.tobytes() == resumed_weights[name].tobytes(), name
    assert whole_history.to_csv() == resumed_history.to_csv()


def test_checkpoint_of_other_settings_is_not_resumed(pixels, tmp_path, capsys):
    make_deterministic(3)
    model = ShallowAutoencoder("l1", LAYERS["l1"], 64)
    model.autoencoder.compile(optimizer="adam", loss="mse")
    model.autoencoder.optimizer.build(model.autoencoder.trainable_variables)
    Checkpoint(tmp_path / "c", "one").save(model.autoencoder, 2, [{"epoch": 1}, {"epoch": 2}])
    assert Checkpoint(tmp_path / "c", "one").restore(model.autoencoder)[0] == 2
    assert Checkpoint(tmp_path / "c", "other").restore(model.autoencoder) == (0, [])
    assert "starting afresh" in capsys.readouterr().err


@pytest.mark.parametrize("history", [True, False], ids=["epoch by epoch", "in one pass"])
def test_each_epoch_trains_on_the_batches_of_its_own_order_and_each_batch_is_augmented(history):
    import tensorflow as tf

    from pipeline.training import epoch_order, fit

    count, batch_size, epochs, seed = 10, 4, 3, 5
    rows = np.arange(count, dtype=np.float32)[:, None]  # each image is its own row number
    seen = []

    def record(images, batch_seed):
        def note(values):
            seen.append(tuple(values.numpy().ravel().astype(int)))
            return values

        return tf.py_function(note, [images], tf.float32)

    make_deterministic(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    fit(
        model,
        rows,
        rows,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=1e-3,
        loss="mse",
        seed=seed,
        augment=record,
        history=history,
    )
    expected = [
        tuple(order[start : start + batch_size])
        for epoch in range(epochs)
        for order in [epoch_order(seed, epoch, count)]
        for start in range(0, count, batch_size)
    ]
    assert sorted(seen) == sorted(expected)
    assert len(set(expected)) > 3, "the epochs are shuffled differently"


def train_bright_or_dark(pixels, model, **options):
    """A few epochs of ``model`` learning whether each image is brighter than the median, the way the few-label
    recipes call ``fit``; what ``fit`` returns."""
    from pipeline.training import fit

    brightness = pixels["train"].sum(axis=1)
    labels = (brightness > np.median(brightness)).astype(np.int64)
    settings = dict(epochs=3, batch_size=32, learning_rate=1e-3, loss="sparse_categorical_crossentropy")
    return fit(model, pixels["train"], labels, **settings | options)


def test_a_fit_prints_one_line_and_an_epoch_only_when_the_fit_is_slow(pixels, capsys, monkeypatch):
    """A short fit's log is its summary; a slow one's also says an epoch now and then (here: every epoch)."""
    from pipeline.training.fit import Progress

    make_deterministic(3)
    history = train_bright_or_dark(pixels, classifier(LAYERS, 64, 2, encoder_weights=None, trainable_encoder=True))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and re.fullmatch(r"3 epochs: loss [\d.]+ \([\d.]+ s\)", lines[0]), lines
    assert len(history) == 3, "every epoch is still in the history"
    monkeypatch.setattr(Progress, "HEARTBEAT_SECONDS", 0.0)
    train_bright_or_dark(pixels, classifier(LAYERS, 64, 2, encoder_weights=None, trainable_encoder=True))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3", "3 epochs"]


def test_a_fit_without_history_trains_in_one_pass_to_the_same_bytes(pixels):
    """The few-label recipes keep no per-epoch record: their epochs run as one pass, and must not change a bit."""
    from pipeline.fewlabel.propagation.train import flip_shift

    trained = {}
    for history in (True, False):
        make_deterministic(11)
        model = classifier(LAYERS, 64, 2, encoder_weights=None, trainable_encoder=True)
        record = train_bright_or_dark(pixels, model, epochs=5, augment=flip_shift(8, True, 1), history=history)
        assert (record is None) == (not history)
        trained[history] = [weight.numpy().tobytes() for weight in model.weights]
    assert trained[True] == trained[False]


def test_a_reused_compiled_twin_trains_to_the_same_bytes_and_leaves_the_generators_alone(pixels):
    """Each draw's classifier trains in the stage's compiled twin: the weights must be those of a fresh compile,
    and the models built after it must start as they would without it."""
    from pipeline.training import CompiledTwins

    def draws(twins) -> list[bytes]:
        weights = []
        for seed in (1, 2, 3):
            make_deterministic(seed)
            model = classifier(LAYERS, 64, 2, encoder_weights=None, trainable_encoder=seed != 2)
            train_bright_or_dark(pixels, model, history=False, twins=twins)
            built_after = classifier(LAYERS, 64, 2, encoder_weights=None, trainable_encoder=True)
            weights += [weight.numpy().tobytes() for weight in model.weights + built_after.weights]
        return weights

    assert draws(twins=None) == draws(twins=CompiledTwins())


def test_an_architecture_built_twice_is_one_architecture_whatever_names_keras_made_up():
    """A compiled twin's key: Keras names each new layer anew (input_layer_1, ...), the architecture is the same."""
    import keras

    from pipeline.training.speed import architecture

    def head(units: int, activation: str = "softmax"):
        return keras.Sequential([keras.Input(shape=(units,)), keras.layers.Dense(2, activation=activation)])

    assert head(4).layers[0].name != head(4).layers[0].name
    assert architecture(head(4)) == architecture(head(4))
    assert architecture(head(4)) != architecture(head(5)) != architecture(head(5, "sigmoid"))
    frozen, trainable = (classifier(LAYERS, 64, 2, None, trainable_encoder=flag) for flag in (False, True))
    assert architecture(frozen) == architecture(classifier(LAYERS, 64, 2, None, trainable_encoder=False))
    assert architecture(frozen) != architecture(trainable)


def test_each_stage_keeps_its_own_compiled_twins(pixels):
    """Twins belong to whoever created them: a second set compiles afresh, and a model trained in either ends
    with the same bytes."""
    from pipeline.training import CompiledTwins

    first, second = CompiledTwins(), CompiledTwins()
    trained = []
    for twins in (first, second, first):
        make_deterministic(5)
        model = classifier(LAYERS, 64, 2, encoder_weights=None, trainable_encoder=True)
        train_bright_or_dark(pixels, model, history=False, twins=twins)
        trained.append([weight.numpy().tobytes() for weight in model.weights])
    assert trained[0] == trained[1] == trained[2]
    assert len(first._compiled) == len(second._compiled) == 1
    assert next(iter(first._compiled.values())) is not next(iter(second._compiled.values()))

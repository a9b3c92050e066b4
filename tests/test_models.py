import numpy as np
import pytest

keras = pytest.importorskip("keras")

from pipeline.config import LayerParams  # noqa: E402
from pipeline.greedy import pretrain_layer, stack_layers, train_classifier  # noqa: E402
from pipeline.config import ClassifyParams, StackParams  # noqa: E402
from pipeline.models.autoencoders import ShallowAutoencoder, StackedAutoencoder, classifier  # noqa: E402
from pipeline.training import make_deterministic  # noqa: E402

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
    first = pretrain_layer("l1", LAYERS["l1"], pixels)
    assert first.history["loss"].iloc[-1] < first.history["loss"].iloc[0], "training must lower the loss"
    assert first.codings["train"].shape == (200, 12)
    second = pretrain_layer("l2", LAYERS["l2"], first.codings)
    assert second.codings["test"].shape == (40, 6)

    stacked = StackedAutoencoder(LAYERS, 64)
    stacked.load({"l1": first.weights, "l2": second.weights})
    # The stacked encoder must compute exactly the cached codings of the top layer.
    assert np.allclose(stacked.encoder.predict(pixels["test"], verbose=0), second.codings["test"], atol=1e-5)

    result = stack_layers(LAYERS, {"l1": first.weights, "l2": second.weights}, pixels,
                          StackParams(finetune_epochs=3, batch_size=16))
    assert result.metrics["test_mse_after_finetune"] < result.metrics["test_mse_before_finetune"]
    assert result.reconstructions["after"].shape == (40, 64)
    assert set(result.weights["l2"]) == {"encoder_kernel", "encoder_bias", "decoder_bias"}


def test_classifier_inits(pixels):
    make_deterministic(0)
    weights = {name: ShallowAutoencoder(name, layer, 64 if name == "l1" else 12).weights()
               for name, layer in LAYERS.items()}
    frozen = classifier(LAYERS, 64, 3, weights, trainable_encoder=False)
    assert [w.name for w in frozen.trainable_weights] == ["kernel", "bias"]
    assert np.array_equal(frozen.get_layer("l1_encoder").kernel.numpy(), weights["l1"]["encoder_kernel"])
    scratch = classifier(LAYERS, 64, 3, None, trainable_encoder=True)
    assert not np.array_equal(scratch.get_layer("l1_encoder").kernel.numpy(), weights["l1"]["encoder_kernel"])

    labels = (pixels["train"][:, 0] > np.median(pixels["train"][:, 0])).astype(int)
    test_labels = (pixels["test"][:, 0] > np.median(pixels["train"][:, 0])).astype(int)
    params = ClassifyParams(epochs=30, batch_size=16)
    result = train_classifier(LAYERS, weights, "finetune", (pixels["train"], labels), (pixels["test"], test_labels), 2, params)
    assert result.metrics["labels_seen"] == 200
    assert result.metrics["test_accuracy"] > 0.7
    with_valid = train_classifier(LAYERS, weights, "frozen", (pixels["train"][:20], labels[:20]),
                                  (pixels["test"], test_labels), 2, params, validation=(pixels["valid"], labels[:40]))
    assert with_valid.metrics["labels_seen"] == 60


def test_training_is_deterministic(pixels):
    runs = []
    for _ in range(2):
        make_deterministic(7)
        runs.append(pretrain_layer("l1", LAYERS["l1"], pixels))
    for name, array in runs[0].weights.items():
        assert array.tobytes() == runs[1].weights[name].tobytes(), name
    assert runs[0].codings["train"].tobytes() == runs[1].codings["train"].tobytes()

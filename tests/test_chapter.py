"""Every technique of the chapter at tiny scale: shapes, losses going down, the PCA comparison, tied layers
sharing weights, and models that save and load to the same outputs."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from pipeline.chapter import TECHNIQUES, technique  # noqa: E402
from pipeline.chapter.common import stack_specs  # noqa: E402
from pipeline.config import LayerParams  # noqa: E402
from pipeline.data.synthetic import make_dataset  # noqa: E402
from pipeline.errors import ConfigError  # noqa: E402
from pipeline.models.autoencoders import LayerwiseAutoencoder, ShallowAutoencoder  # noqa: E402
from pipeline.models.generative import convolutional_autoencoder, variational_autoencoder  # noqa: E402
from pipeline.models.layers import DenseTranspose  # noqa: E402
from pipeline.report.figures import png_bytes  # noqa: E402
from pipeline.training import make_deterministic  # noqa: E402

TINY = {"epochs": 3, "batch_size": 32}
conv, denoising, features, linear_pca, phases, sparsity, tied, vae = (
    technique(name).train()
    for name in ("conv", "denoising", "features", "linear_pca", "phases", "sparsity", "tied", "vae")
)
ConvParams, DenoisingParams, FeaturesParams, LinearPcaParams, PhasesParams, SparsityParams, TiedParams, VaeParams = (
    technique(name).params
    for name in ("conv", "denoising", "features", "linear_pca", "phases", "sparsity", "tied", "vae")
)


@pytest.fixture(scope="module")
def pixels():
    """Real 28x28 images (generated class templates), split like the pipeline splits them."""
    data = make_dataset(train_count=360, test_count=60, seed=1)
    images = data["train_images"].reshape(360, -1).astype(np.float32) / 255
    return {
        "train": images[:300],
        "valid": images[300:],
        "test": data["test_images"].reshape(60, -1).astype(np.float32) / 255,
    }


def draws(name, result):
    """The report's figure for the technique renders from what the stage would write."""
    drawing = technique(name).report()
    assert png_bytes(drawing.figure(result.arrays, result.metrics, result.history_table()))[:4] == b"\x89PNG"


def decreasing(history):
    return history["loss"].iloc[-1] < history["loss"].iloc[0]


def save_and_load(model, tmp_path, name="model.keras"):
    model.save(tmp_path / name)
    return keras.saving.load_model(tmp_path / name)


def test_linear_autoencoder_finds_the_pca_subspace(pixels):
    make_deterministic(0)
    params = LinearPcaParams(
        codings=4, synthetic_points=200, synthetic_epochs=200, synthetic_learning_rate=0.01, **TINY
    )
    result = linear_pca.run(params, pixels, seed=0)
    # Adam at a constant rate ends within a few % of the optimum (1.002 to 1.027 over six shuffle seeds)
    assert 1 - 1e-6 <= result.metrics["synthetic_train_mse_ratio"] <= 1.05, "PCA is the optimum; the AE gets close"
    assert result.metrics["synthetic_max_principal_angle_degrees"] < 3
    assert result.metrics["images_train_mse_ratio"] >= 1 - 1e-6
    assert result.arrays["autoencoder_codings"].shape == result.arrays["pca_codings"].shape == (200, 2)
    assert decreasing(result.histories["linear autoencoder"])
    draws("linear_pca", result)


def test_tied_decoders_share_their_encoders_kernels_through_save_and_load(pixels, tmp_path):
    make_deterministic(0)
    model = LayerwiseAutoencoder(784, stack_specs([16, 8], tied=True), name="tied")
    untied = LayerwiseAutoencoder(784, stack_specs([16, 8]), name="untied")
    kernels = 784 * 16 + 16 * 8
    biases = 16 + 8 + 16 + 784
    assert model.count_params() == kernels + biases and untied.count_params() == 2 * kernels + biases
    decoder = model.decoder_layer("h1")
    assert isinstance(decoder, DenseTranspose) and decoder.dense is model.encoder_layer("h1")

    loaded = save_and_load(model, tmp_path)
    assert np.array_equal(loaded.predict(pixels["test"], verbose=0), model.predict(pixels["test"], verbose=0))
    assert loaded.decoder_layer("h1").dense is loaded.encoder_layer("h1"), "still tied after loading"
    loaded.encoder_layer("h1").kernel.assign(np.zeros((784, 16), np.float32))
    assert np.allclose(
        loaded.predict(pixels["test"][:2], verbose=0),
        keras.activations.sigmoid(loaded.decoder_layer("h1").bias).numpy(),
    )

    result = tied.run(TiedParams(units=[16, 8], **TINY), pixels, seed=0)
    assert result.metrics["parameter_ratio"] < 0.55
    assert decreasing(result.histories["tied"]) and decreasing(result.histories["untied"])
    draws("tied", result)


def test_phases_train_one_layer_at_a_time_with_and_without_the_cache(pixels):
    make_deterministic(0)
    params = PhasesParams(units=[16, 8], joint_epochs=4, **TINY)
    deep, seconds = phases.with_phases(params, pixels, cache=False, seed=0)
    assert all(layer.trainable for layer in deep.layers), "unfrozen once every phase is done"
    assert list(seconds) == ["h1", "h2"]
    result = phases.run(params, pixels, seed=0)
    for method in technique("phases").package().METHODS:
        assert 0 < result.metrics[f"{method}_test_mse"] < 0.2 and result.timings[f"{method}_seconds"] > 0
        assert result.arrays[method].shape == (10, 784)
        assert not any("seconds" in key for key in result.metrics), "wall times vary: never in DVC's metrics"
    assert result.timings["phases_cache_h2_seconds"] > result.timings["phases_cache_h2_median_epoch_seconds"] > 0
    # 784-16-8, 3 epochs: layer pairs cost 2*784*16 and 2*16*8 forward; the frozen h1 encoder 784*16
    trained = 3 * 3 * (2 * 784 * 16 + 2 * 16 * 8)
    assert result.metrics["phases_cache_work"] == pytest.approx((trained + 784 * 16) / 1e6)
    assert result.metrics["phases_no_cache_work"] == pytest.approx((trained + 3 * 784 * 16) / 1e6)
    assert result.metrics["cache_work_saving"] > 1
    # Same computation, two schedules: caching the frozen layer's output changes the time, not what is learned.
    assert result.metrics["phases_cache_test_mse"] == pytest.approx(
        result.metrics["phases_no_cache_test_mse"], rel=1e-3
    )
    draws("phases", result)


def test_a_phase_trains_only_its_own_layer_and_leaves_the_frozen_ones_untouched(pixels, monkeypatch):
    make_deterministic(0)
    calls, original = [], phases.train

    def recording(model, inputs, settings, **kwargs):
        trainable = [weight.path for weight in model.trainable_weights]
        frozen_before = [weight.numpy().copy() for weight in model.non_trainable_weights]
        history = original(model, inputs, settings, **kwargs)
        calls.append((trainable, frozen_before, [weight.numpy() for weight in model.non_trainable_weights]))
        return history

    monkeypatch.setattr(phases, "train", recording)
    phases.with_phases(PhasesParams(units=[16, 8], **TINY), pixels, cache=False, seed=0)
    (first, _, _), (second, frozen_before, frozen_after) = calls
    assert first and all(path.startswith("h1_") for path in first)
    assert second and all(path.startswith("h2_") for path in second)
    assert len(frozen_before) == 2, "layer 1's encoder kernel and bias are in the graph, frozen"
    assert all(np.array_equal(before, after) for before, after in zip(frozen_before, frozen_after))


def test_denoising_autoencoders_remove_noise_even_when_overcomplete(pixels):
    make_deterministic(0)
    noisy = denoising.corrupt(np.full((2000, 10), 0.5, np.float32), "gaussian", 0.2, seed=0)
    assert noisy.std() == pytest.approx(0.2, rel=0.05)
    dropped = denoising.corrupt(np.full((2000, 10), 0.5, np.float32), "dropout", 0.5, seed=0)
    assert np.mean(dropped == 0) == pytest.approx(0.5, abs=0.02) and dropped.max() == pytest.approx(1.0)

    result = denoising.run(
        DenoisingParams(units=[16, 8], overcomplete_units=1000, epochs=6, batch_size=32), pixels, seed=0
    )
    assert result.metrics["overcomplete_units"] > 784
    for name in ("gaussian", "dropout", "overcomplete"):
        assert decreasing(result.histories[name])
        assert result.arrays[f"{name}_denoised"].shape == (10, 784)
    # An identity copy would score copy_mse; the overcomplete model learned to denoise instead.
    assert result.metrics["overcomplete_denoising_mse"] < 0.5 * result.metrics["overcomplete_copy_mse"]
    draws("denoising", result)


def test_kl_sparsity_pulls_mean_activation_towards_the_target(pixels):
    make_deterministic(0)
    result = sparsity.run(
        SparsityParams(units=[16, 32], kl_target=0.1, kl_weight=0.5, l1_weight=0.01, epochs=6, batch_size=32),
        pixels,
        seed=0,
    )
    plain, kl = result.metrics["plain_mean_activation"], result.metrics["kl_mean_activation"]
    assert abs(kl - 0.1) < abs(plain - 0.1)
    assert result.metrics["l1_mean_activation"] < plain
    assert result.arrays["kl_unit_means"].shape == (32,)
    draws("sparsity", result)


def test_pretrain_layers_take_corruption_and_sparsity_options(pixels, tmp_path):
    make_deterministic(0)
    layer = LayerParams(
        input="pixels",
        units=12,
        activation="sigmoid",
        output_activation="sigmoid",
        noise="dropout",
        noise_level=0.3,
        sparsity="kl",
        sparsity_target=0.05,
        sparsity_weight=0.2,
    )
    model = ShallowAutoencoder("l1", layer, 784)
    assert [type(layer).__name__ for layer in model.autoencoder.layers[1:3]] == ["Dropout", "Dense"]
    assert model.encoder_dense.activity_regularizer.target == 0.05
    loaded = save_and_load(model.autoencoder, tmp_path)
    assert np.array_equal(
        loaded.predict(pixels["test"], verbose=0), model.autoencoder.predict(pixels["test"], verbose=0)
    )
    assert loaded.encoder_layer("l1").activity_regularizer.get_config() == {"weight": 0.2, "target": 0.05}


@pytest.mark.parametrize("kinds", [("dense", "dense"), ("conv", "dense"), ("conv", "conv")])
def test_features_show_weights_top_images_and_ascent(pixels, kinds):
    make_deterministic(0)
    layers = {
        "l1": LayerParams(input="pixels", kind=kinds[0], units=16 if kinds[0] == "dense" else 4),
        "l2": LayerParams(input="l1", kind=kinds[1], units=8),
    }
    first = ShallowAutoencoder("l1", layers["l1"], 784)
    second = ShallowAutoencoder("l2", layers["l2"], first.encoder.output_shape[-1], input_channels=layers["l1"].units)
    l1 = {subset: first.encoder.predict(pixels[subset], verbose=0) for subset in ("train", "test")}
    l2 = {subset: second.encoder.predict(l1[subset], verbose=0) for subset in ("train", "test")}
    result = features.run(
        FeaturesParams(neurons=4, top_images=3, ascent_steps=30),
        layers=layers,
        weights={"l1": first.weights(), "l2": second.weights()},
        features={"pixels": pixels, "l1": l1, "l2": l2},
        seed=0,
    )
    assert result.arrays["top_images"].shape == (4, 3, 784) and result.arrays["maximized"].shape == (4, 784)
    assert result.metrics["ascent_end_activation"] > result.metrics["ascent_start_activation"]
    # The images chosen really are the top ones for each neuron.
    top = l2["train"][:, result.arrays["neurons"]]
    assert np.allclose(np.sort(top, axis=0)[-1], top.max(axis=0))
    # The first-layer picture of each neuron: a unit's 784 weights, or a conv layer's 3x3 filter.
    assert result.arrays["first_layer_weights"].shape == (4, 784 if kinds[0] == "dense" else 9)
    draws("features", result)


def test_variational_autoencoder_generates_and_walks_and_reloads(pixels, tmp_path):
    make_deterministic(0)
    result = vae.run(
        VaeParams(units=[32, 16], codings=2, grid=3, walk_steps=5, epochs=4, batch_size=32), pixels, seed=0
    )
    assert result.arrays["generated"].shape == (9, 784) and result.arrays["walk"].shape == (5, 784)
    assert 0 <= result.arrays["generated"].min() and result.arrays["generated"].max() <= 1
    assert decreasing(result.histories["vae"])
    draws("vae", result)

    model, encoder, decoder = variational_autoencoder(784, [32, 16], 2, seed=0)
    loaded = save_and_load(model, tmp_path)
    codings = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    assert np.array_equal(
        loaded.get_layer("variational_decoder").predict(codings, verbose=0), decoder.predict(codings, verbose=0)
    )
    means = loaded.get_layer("variational_encoder").predict(pixels["test"], verbose=0)[0]
    assert np.array_equal(means, encoder.predict(pixels["test"], verbose=0)[0])


def test_convolutional_autoencoder_reconstructs_and_reloads(pixels, tmp_path):
    make_deterministic(0)
    result = conv.run(ConvParams(filters=[4, 8], codings=8, **TINY), pixels, seed=0)
    assert result.arrays["reconstructions"].shape == (10, 784) and decreasing(result.histories["conv"])
    draws("conv", result)
    model, _ = convolutional_autoencoder(28, [4, 8], 8)
    assert np.array_equal(
        save_and_load(model, tmp_path).predict(pixels["test"], verbose=0), model.predict(pixels["test"], verbose=0)
    )
    with pytest.raises(
        ConfigError, match="chapter.conv.filters: 3 pooling levels need square images whose side divides by 8"
    ):
        conv.run(ConvParams(filters=[4, 8, 8], **TINY), pixels, seed=0)


def test_same_seed_same_bytes(pixels):
    """What DVC relies on to skip downstream stages: a technique rerun with the same seed gives the same arrays."""
    runs = []
    for _ in range(2):
        make_deterministic(0)
        runs.append(tied.run(TiedParams(units=[16, 8], epochs=2, batch_size=32), pixels, seed=0))
    first, second = runs
    assert first.arrays.keys() == second.arrays.keys()
    assert all(np.array_equal(first.arrays[key], second.arrays[key]) for key in first.arrays)
    assert first.metrics == second.metrics


def test_every_technique_folder_declares_what_the_registry_reads():
    """A new folder under pipeline/chapter/ is a technique: its title, place, params, run, table, figure and text."""
    assert [t.order for t in TECHNIQUES] == sorted({t.order for t in TECHNIQUES}), "each place in the chapter once"
    for declared in TECHNIQUES:
        assert declared.title and callable(declared.train().run)
        assert callable(declared.report().table) and callable(declared.report().figure)
        assert (declared.folder / "section.md.j2").is_file()
        assert declared.params().model_dump(), "every setting has a default"
    assert [t.name for t in TECHNIQUES if t.reads_layers] == ["features"]

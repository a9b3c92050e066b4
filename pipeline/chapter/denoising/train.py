"""Denoising autoencoders: corrupt the inputs (Gaussian noise or dropout) during training, reconstruct the
clean images. With the corruption, even an overcomplete autoencoder cannot just copy its input."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.chapter.common import SHOWN_IMAGES, TechniqueResult, reconstruction_metrics, stack_specs, train
from pipeline.chapter.denoising import Params
from pipeline.training import mean_squared_error


def corrupt(images: np.ndarray, noise: str, level: float, seed: int) -> np.ndarray:
    """The corruption Keras applies in training, drawn with numpy: GaussianNoise adds N(0, level);
    Dropout zeroes a fraction ``level`` of the pixels and scales the rest by 1 / (1 - level)."""
    rng = np.random.default_rng(seed)
    if noise == "gaussian":
        return (images + rng.normal(0, level, images.shape)).astype(np.float32)
    kept = rng.random(images.shape) >= level
    return (images * kept / (1 - level)).astype(np.float32)


def run(params: Params, pixels: Mapping[str, np.ndarray], seed: int) -> TechniqueResult:
    from pipeline.models.autoencoders import LayerwiseAutoencoder

    input_dim = pixels["train"].shape[1]
    models = {
        "gaussian": ("gaussian", params.gaussian_stddev, stack_specs(params.units)),
        "dropout": ("dropout", params.dropout_rate, stack_specs(params.units)),
        "overcomplete": ("gaussian", params.gaussian_stddev, stack_specs([params.overcomplete_units])),
    }
    shown = pixels["test"][:SHOWN_IMAGES]
    metrics, arrays, histories = (
        {"overcomplete_units": params.overcomplete_units, "input_dim": input_dim},
        {"originals": shown},
        {},
    )
    for name, (noise, level, specs) in models.items():
        model = LayerwiseAutoencoder(input_dim, specs, noise=noise, noise_level=level, name=f"{name}_denoising")
        histories[name] = train(model, pixels["train"], params, validation=pixels["valid"])
        corrupted = corrupt(pixels["test"], noise, level, seed)
        metrics.update(reconstruction_metrics(model, pixels, prefix=f"{name}_"))
        # Denoising error: reconstruct corrupted test images, compare with the clean ones. A model that
        # copies its input would score the corruption's own error (copy_mse).
        metrics[f"{name}_denoising_mse"] = mean_squared_error(model, corrupted, targets=pixels["test"])
        metrics[f"{name}_copy_mse"] = float(np.mean(np.square(corrupted - pixels["test"]), dtype=np.float64))
        arrays[f"{name}_corrupted"] = corrupted[:SHOWN_IMAGES]
        arrays[f"{name}_denoised"] = model.predict(corrupted[:SHOWN_IMAGES], verbose=0)
    return TechniqueResult(metrics, arrays, histories)

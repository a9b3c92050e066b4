"""Generating images with a variational autoencoder: sampled from its prior, and walked through its latent space."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.chapter.common import TechniqueResult, train
from pipeline.chapter.vae import Params


def run(params: Params, pixels: Mapping[str, np.ndarray], seed: int) -> TechniqueResult:
    from pipeline.models.generative import variational_autoencoder

    vae, encoder, decoder = variational_autoencoder(pixels["train"].shape[1], params.units, params.codings, seed)
    history = train(vae, pixels["train"], params, validation=pixels["valid"])
    rng = np.random.default_rng(seed)
    generated = decoder.predict(rng.standard_normal((params.grid**2, params.codings)).astype(np.float32), verbose=0)
    # Latent walk: decode evenly spaced points on the line between two test images' mean codings.
    means = encoder.predict(pixels["test"], batch_size=1024, verbose=0)[0]
    ends = means[:2]
    steps = np.linspace(0, 1, params.walk_steps, dtype=np.float32)[:, None]
    walk = decoder.predict((1 - steps) * ends[0] + steps * ends[1], verbose=0)

    def mean_coding_mse(subset: str) -> float:
        decoded = decoder.predict(
            encoder.predict(pixels[subset], batch_size=1024, verbose=0)[0], batch_size=1024, verbose=0
        )
        return float(np.mean(np.square(decoded - pixels[subset]), dtype=np.float64))

    metrics = {
        "codings": params.codings,
        "valid_mse": mean_coding_mse("valid"),
        "test_mse": mean_coding_mse("test"),
        "final_loss": float(history["loss"].iloc[-1]),
        "codings_mean_std": float(means.std(axis=0).mean()),
    }
    arrays = {"generated": generated, "walk": walk, "walk_ends": pixels["test"][:2]}
    return TechniqueResult(metrics, arrays, {"vae": history})

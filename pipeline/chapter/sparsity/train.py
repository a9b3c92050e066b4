"""Sparse autoencoders: a penalty keeps most coding units near zero, so each one learns a rarer feature.

Three models of the same shape with sigmoid codings: no penalty, an L1 activity penalty, and the KL
divergence between a target rate and each unit's mean activation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.chapter.common import TechniqueResult, reconstruction_metrics, stack_specs, train
from pipeline.chapter.sparsity import Params


def run(params: Params, pixels: Mapping[str, np.ndarray], seed: int) -> TechniqueResult:
    from pipeline.models.autoencoders import LayerwiseAutoencoder

    specs = stack_specs(params.units, coding_activation="sigmoid")
    penalties = {"plain": ("none", 0.0), "l1": ("l1", params.l1_weight), "kl": ("kl", params.kl_weight)}
    metrics, arrays, histories = {"kl_target": params.kl_target}, {}, {}
    for name, (sparsity, weight) in penalties.items():
        model = LayerwiseAutoencoder(
            pixels["train"].shape[1],
            specs,
            sparsity=sparsity,
            sparsity_target=params.kl_target,
            sparsity_weight=weight,
            name=f"{name}_sparse",
        )
        histories[name] = train(model, pixels["train"], params, validation=pixels["valid"])
        codings = model.encoder().predict(pixels["test"], batch_size=1024, verbose=0)
        unit_means = codings.mean(axis=0)
        arrays[f"{name}_unit_means"] = unit_means
        metrics.update(reconstruction_metrics(model, pixels, prefix=f"{name}_"))
        metrics[f"{name}_mean_activation"] = float(codings.mean(dtype=np.float64))
        # How often a unit is really on: the share of (image, unit) activations above 0.5.
        metrics[f"{name}_active_share"] = float(np.mean(codings > 0.5))
    return TechniqueResult(metrics, arrays, histories)

"""Tied weights: each decoder reuses its encoder's kernel, transposed, halving the parameters."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.chapter.common import SHOWN_IMAGES, TechniqueResult, reconstruction_metrics, stack_specs, train
from pipeline.chapter.tied import Params


def run(params: Params, pixels: Mapping[str, np.ndarray], seed: int) -> TechniqueResult:
    from pipeline.models.autoencoders import LayerwiseAutoencoder

    metrics, arrays, histories = {}, {"originals": pixels["test"][:SHOWN_IMAGES]}, {}
    for kind, tied in (("untied", False), ("tied", True)):
        model = LayerwiseAutoencoder(
            pixels["train"].shape[1], stack_specs(params.units, tied=tied), name=f"{kind}_autoencoder"
        )
        histories[kind] = train(model, pixels["train"], params, validation=pixels["valid"])
        metrics.update(reconstruction_metrics(model, pixels, prefix=f"{kind}_"))
        metrics[f"{kind}_parameters"] = int(model.count_params())
        arrays[kind] = model.predict(arrays["originals"], verbose=0)
    metrics["parameter_ratio"] = metrics["tied_parameters"] / metrics["untied_parameters"]
    return TechniqueResult(metrics, arrays, histories)

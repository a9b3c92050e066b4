"""A convolutional autoencoder, to set against the dense ones at the same code size."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.chapter.common import SHOWN_IMAGES, TechniqueResult, reconstruction_metrics, train
from pipeline.chapter.conv import Params
from pipeline.errors import ConfigError


def run(params: Params, pixels: Mapping[str, np.ndarray], seed: int) -> TechniqueResult:
    from pipeline.models.generative import convolutional_autoencoder

    side = int(round(pixels["train"].shape[1] ** 0.5))
    levels = len(params.filters)
    if side * side != pixels["train"].shape[1] or side % 2**levels:
        raise ConfigError(
            f"chapter.conv.filters: {levels} pooling levels need square images whose side divides by "
            f"{2**levels}, got {pixels['train'].shape[1]} pixels per image"
        )
    model, _ = convolutional_autoencoder(side, params.filters, params.codings)
    history = train(model, pixels["train"], params, validation=pixels["valid"])
    shown = pixels["test"][:SHOWN_IMAGES]
    metrics = {
        **reconstruction_metrics(model, pixels),
        "parameters": int(model.count_params()),
        "codings": params.codings,
    }
    return TechniqueResult(
        metrics, {"originals": shown, "reconstructions": model.predict(shown, verbose=0)}, {"conv": history}
    )

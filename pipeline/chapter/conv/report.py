"""The convolutional autoencoder beside the dense stack of the same code size, and its reconstructions."""

from __future__ import annotations

import pandas as pd

from pipeline.report.figures import image_rows


def table(metrics: dict, params, chapter: dict) -> pd.DataFrame:
    dense = params.chapter.phases
    # The tied stage counted the untied stack's parameters: the joint dense stack's, when the sizes agree.
    dense_parameters = (
        chapter["tied"]["untied_parameters"] if params.chapter.tied.units == dense.units else float("nan")
    )
    return pd.DataFrame(
        [
            {
                "model": f"convolutional, filters {params.chapter.conv.filters}",
                "codings": metrics["codings"],
                "parameters": metrics["parameters"],
                "test MSE": metrics["test_mse"],
            },
            {
                "model": f"dense {'-'.join(map(str, dense.units))}, joint",
                "codings": dense.units[-1],
                "parameters": dense_parameters,
                "test MSE": chapter["phases"]["joint_test_mse"],
            },
        ],
        dtype=object,
    )


def figure(arrays, metrics, history):
    return image_rows(arrays["originals"], {"convolutional": arrays["reconstructions"]})

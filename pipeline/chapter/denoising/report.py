"""Each corruption: clean, denoising and copy errors, and the corrupted and denoised images."""

from __future__ import annotations

from pipeline.report.figures import image_rows
from pipeline.report.tables import model_rows

MODELS = ("gaussian", "dropout", "overcomplete")  # the metric prefixes of train.py's three models


def table(metrics: dict, params, chapter: dict):
    wide = f"{metrics['overcomplete_units']} codings, Gaussian"  # overcomplete only above the pixel count
    labels = dict(zip(MODELS, ("Gaussian noise", "dropout", wide)))
    return model_rows(
        metrics, labels, {"test_mse": "clean test MSE", "denoising_mse": "denoising MSE", "copy_mse": "copy MSE"}
    )


def figure(arrays, metrics, history):
    rows = {}
    for name in MODELS:
        rows[f"{name}: corrupted"] = arrays[f"{name}_corrupted"]
        rows[f"{name}: denoised"] = arrays[f"{name}_denoised"]
    return image_rows(arrays["originals"], rows)

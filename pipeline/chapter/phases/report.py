"""The three ways of training a stack: errors and training work, and each one's reconstructions."""

from __future__ import annotations

from pipeline.chapter.phases import METHODS
from pipeline.report.figures import image_rows
from pipeline.report.tables import model_rows

LABELS = dict(
    zip(
        METHODS,
        (
            "(a) separate graphs",
            "(b) one graph, phases, no cache",
            "(b) one graph, phases, cached outputs",
            "(c) joint, from scratch",
        ),
    )
)


def table(metrics: dict, params, chapter: dict):
    return model_rows(
        metrics,
        LABELS,
        {"valid_mse": "validation MSE", "test_mse": "test MSE", "work": "training work (M multiply-adds per image)"},
    )


def figure(arrays, metrics, history):
    return image_rows(arrays["originals"], {method.replace("_", " "): arrays[method] for method in METHODS})

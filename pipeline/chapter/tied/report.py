"""Tied against untied: parameters and errors, and both learning curves."""

from __future__ import annotations

from pipeline.report.figures import curves
from pipeline.report.tables import model_rows


def table(metrics: dict, params, chapter: dict):
    return model_rows(
        metrics,
        {"untied": "untied", "tied": "tied"},
        {"parameters": "parameters", "valid_mse": "validation MSE", "test_mse": "test MSE"},
    )


def figure(arrays, metrics, history):
    return curves(
        history, f"untied ({metrics['untied_parameters']:,} parameters) against tied ({metrics['tied_parameters']:,})"
    )

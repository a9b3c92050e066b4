"""The probes' results of a run, read back from the baseline and probe metrics: do the pretrained layers' codings
beat the pixels, read by the same cheap classifiers on the same draws? The report's "Which pretraining pays" table
and its sentence, and the probes' rows of reports/fewlabel.csv."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.config import PIXELS, Params
from pipeline.fewlabel.probe import PROBE_METRICS
from pipeline.fewlabel.results import BASELINE, FEWLABEL_COLUMNS, comparison, difference, fewlabel_row, method_title
from pipeline.report.tables import mean_and_spread
from pipeline.runtime import io, paths
from pipeline.stats import per_draw

PROBE_TITLES = {"logistic": "logistic regression", "neighbours": "nearest neighbours"}


def probe_method(probe: str, representation: str) -> str:
    """A probe's name in reports/fewlabel.csv: ``logistic_regression`` on the pixels (the baseline),
    ``nearest_neighbours_on_l2`` on a layer's codings."""
    name = BASELINE if probe == "logistic" else "nearest_neighbours"
    return name if representation == PIXELS else f"{name}_on_{representation}"


def probe_accuracies(params: Params) -> dict[int, dict[tuple[str, str], np.ndarray]]:
    """Per budget, each (probe, representation)'s test accuracy on every draw: the pixels' from the baseline
    stage, each pretrained layer's codings' from the probe stage."""
    return probes_by_budget(
        io.read_json(paths.BASELINE_METRICS), io.read_json(paths.PROBE_METRICS), params.split.budgets
    )


def probes_by_budget(pixels: Mapping, layers: Mapping, budgets) -> dict[int, dict[tuple[str, str], np.ndarray]]:
    """:func:`probe_accuracies` of the baseline's and the probe stage's metrics (``{layer: {budget: summary}}``)."""
    by_representation = {PIXELS: pixels, **layers}
    return {
        budget: {
            (probe, representation): per_draw(metrics[str(budget)], metric)
            for representation, metrics in by_representation.items()
            for probe, metric in PROBE_METRICS.items()
        }
        for budget in budgets
    }


def probe_rows(probes: dict) -> pd.DataFrame:
    """The probes' rows of reports/fewlabel.csv (``pretrained``: on a layer's codings), each paired with the same
    probe on the pixels; logistic regression on the pixels is already the baseline's row."""
    rows = []
    for budget, methods in probes.items():
        for (probe, representation), values in methods.items():
            if (probe, representation) == ("logistic", PIXELS):
                continue
            on_codings = representation != PIXELS
            pixels = methods[(probe, PIXELS)] if on_codings else None
            rows.append(fewlabel_row(budget, probe_method(probe, representation), on_codings, values, pixels))
    return pd.DataFrame(rows, columns=FEWLABEL_COLUMNS)


def pays_table(params: Params, probes: dict, accuracies: dict) -> pd.DataFrame:
    """Which pretraining pays: per pretrained layer and probe, the test accuracy (mean ± sd over the draws) and its
    paired difference to the same probe on the pixels, in points, per budget; then the best recipe's accuracy
    from this stack's encoder."""
    rows = []
    for representation in [PIXELS, *params.pretrain.layers]:
        for probe, title in PROBE_TITLES.items():
            row = {"codings": _pretraining(params, representation), "probe": title}
            for budget, methods in probes.items():
                values = methods[(probe, representation)]
                spread = values.std(ddof=1) if len(values) > 1 else None
                row[f"{budget} labels"] = mean_and_spread(values.mean(), spread)
                if representation != PIXELS:
                    row[f"{budget} labels"] += f"; {difference(values, methods[(probe, PIXELS)])}"
            rows.append(row)
    best = {"codings": "the whole stack", "probe": "best recipe, pretrained start"}
    for budget, methods in accuracies.items():
        pretrained = {recipe: values for (recipe, init), values in methods.items() if init == "pretrained"}
        if pretrained:
            recipe, values = max(pretrained.items(), key=lambda item: item[1].mean())
            best[f"{budget} labels"] = f"{values.mean():.4f} ({method_title(recipe)})"
    return pd.DataFrame([*rows, best])


def pays_sentence(probes: dict) -> str:
    """In plain words, at the smallest budget: the codings that gain most over the pixels, by which probe, and
    whether the gain exceeds the draw noise ("" when no layer was probed)."""
    budget = min(probes)
    methods = probes[budget]
    gains = {
        (probe, representation): values
        for (probe, representation), values in methods.items()
        if representation != PIXELS
    }
    if not gains:
        return ""
    (probe, representation), values = max(
        gains.items(), key=lambda item: item[1].mean() - methods[(item[0][0], PIXELS)].mean()
    )
    return (
        f"With {budget} labels, the largest gain over the pixels is {representation}'s codings read by "
        f"{PROBE_TITLES[probe]} ({values.mean():.4f}), which "
        + comparison(values, methods[(probe, PIXELS)], "the same probe on the pixels")
        + "."
    )


def _pretraining(params: Params, representation: str) -> str:
    """How a representation was learnt, in a few words: "l1: 300 units, gaussian noise, no sparsity"."""
    if representation == PIXELS:
        return "pixels (no pretraining)"
    layer = params.pretrain.layers[representation]
    noise = "no noise" if layer.noise == "none" else f"{layer.noise} noise {layer.noise_level:g}"
    sparsity = "not sparse" if layer.sparsity == "none" else f"{layer.sparsity} sparsity"
    return f"{representation}: {layer.size_in_words()}, {noise}, {sparsity}{', tied' if layer.tied else ''}"

"""The few-label results of a run, read back from the classify, baseline and probe metrics: tables and verdicts.

Every comparison is paired over the same labelled draws; "better" needs the 95 % interval of the paired
difference to exclude zero (:mod:`pipeline.stats`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline import fewlabel, io, paths
from pipeline.config import INITIALISATIONS, PIXELS, RECIPES, Params
from pipeline.fewlabel.probe import PROBE_METRICS
from pipeline.stats import CONFIDENCE, paired_interval, per_draw, verdict

BASELINE = "logistic_regression"


def plot_columns() -> list[str]:
    """Every method's column of the accuracy plot (empty when not run), as dvc.yaml's plot names them."""
    return [*(method_name(recipe, init) for recipe in RECIPES for init in INITIALISATIONS), BASELINE]


FEWLABEL_COLUMNS = [
    "budget",
    "recipe",
    "pretrained",
    "draws",
    "mean_accuracy",
    "sd_accuracy",
    "diff_vs_pixels_low",  # a recipe against logistic regression on pixels, a probe against itself on pixels
    "diff_vs_pixels_high",
]
PROBE_TITLES = {"logistic": "logistic regression", "neighbours": "nearest neighbours"}


def method_name(recipe: str, init: str) -> str:
    """Column name of a recipe and initialisation: ``propagation`` (pretrained) or ``propagation_random``."""
    return recipe if init == "pretrained" else f"{recipe}_random"


def method_title(name: str, init: str | None = None) -> str:
    title = "logistic regression on pixels" if name == BASELINE else fewlabel.recipe(name).title
    return title + ("" if init in (None, "pretrained") else ", random start")


def draw_accuracies(params: Params) -> dict[int, dict[tuple[str, str | None], np.ndarray]]:
    """Per budget, each (recipe, init)'s test accuracy on every draw, and the logistic regression's (init None)."""
    baseline = io.read_json(paths.BASELINE_METRICS)
    results = {}
    recipes = {
        (recipe, init): io.read_json(paths.classify_metrics(recipe, init))
        for recipe in params.classify.recipes
        for init in (("pretrained", "random") if recipe in params.classify.random_start else ("pretrained",))
    }
    for budget in params.split.budgets:
        results[budget] = {(BASELINE, None): per_draw(baseline[str(budget)])}
        for (recipe, init), metrics in recipes.items():
            results[budget][(recipe, init)] = per_draw(metrics[str(budget)][init])
    return results


def fewlabel_table(accuracies: dict[int, dict[tuple[str, str | None], np.ndarray]]) -> pd.DataFrame:
    """One row per budget x recipe x initialisation (and the logistic regression), the paired interval to it."""
    rows = []
    for budget, methods in accuracies.items():
        baseline = methods[(BASELINE, None)]
        for (recipe, init), values in methods.items():
            _, low, high = paired_interval(values, baseline) if init is not None else (0, np.nan, np.nan)
            rows.append(
                {
                    "budget": budget,
                    "recipe": recipe,
                    "pretrained": init == "pretrained",
                    "draws": len(values),
                    "mean_accuracy": values.mean(),
                    "sd_accuracy": values.std(ddof=1) if len(values) > 1 else np.nan,
                    "diff_vs_pixels_low": low,
                    "diff_vs_pixels_high": high,
                }
            )
    return pd.DataFrame(rows, columns=FEWLABEL_COLUMNS)


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
            pixels = methods[(probe, PIXELS)]
            _, low, high = paired_interval(values, pixels) if representation != PIXELS else (0, np.nan, np.nan)
            rows.append(
                {
                    "budget": budget,
                    "recipe": probe_method(probe, representation),
                    "pretrained": representation != PIXELS,
                    "draws": len(values),
                    "mean_accuracy": values.mean(),
                    "sd_accuracy": values.std(ddof=1) if len(values) > 1 else np.nan,
                    "diff_vs_pixels_low": low,
                    "diff_vs_pixels_high": high,
                }
            )
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
                row[f"{budget} labels"] = (
                    f"{values.mean():.4f} ± {values.std(ddof=1):.4f}" if len(values) > 1 else f"{values.mean():.4f}"
                )
                if representation != PIXELS:
                    row[f"{budget} labels"] += f"; {_difference(values, methods[(probe, PIXELS)])}"
            rows.append(row)
    best = {"codings": "the whole stack", "probe": "best recipe, pretrained start"}
    for budget, methods in accuracies.items():
        pretrained = {recipe: values for (recipe, init), values in methods.items() if init == "pretrained"}
        if pretrained:
            recipe, values = max(pretrained.items(), key=lambda item: item[1].mean())
            best[f"{budget} labels"] = f"{values.mean():.4f} ({method_title(recipe)})"
    return pd.DataFrame([*rows, best])


def _pretraining(params: Params, representation: str) -> str:
    """How a representation was learnt, in a few words: "l1: 300 units, gaussian noise, no sparsity"."""
    if representation == PIXELS:
        return "pixels (no pretraining)"
    layer = params.pretrain.layers[representation]
    noise = "no noise" if layer.noise == "none" else f"{layer.noise} noise {layer.noise_level:g}"
    sparsity = "not sparse" if layer.sparsity == "none" else f"{layer.sparsity} sparsity"
    return f"{representation}: {layer.units} units, {noise}, {sparsity}{', tied' if layer.tied else ''}"


def mean_table(accuracies: dict) -> pd.DataFrame:
    """Mean test accuracy, one row per budget, one column per method (for the figure and the DVC plot)."""
    return pd.DataFrame(
        [
            {
                (BASELINE if init is None else method_name(recipe, init)): values.mean()
                for (recipe, init), values in methods.items()
            }
            for methods in accuracies.values()
        ],
        index=pd.Index(list(accuracies), name="budget"),
    )


def spread_table(accuracies: dict) -> pd.DataFrame:
    """Sample standard deviation over draws, shaped like :func:`mean_table` (NaN for one draw)."""
    return pd.DataFrame(
        [
            {
                (BASELINE if init is None else method_name(recipe, init)): (
                    values.std(ddof=1) if len(values) > 1 else np.nan
                )
                for (recipe, init), values in methods.items()
            }
            for methods in accuracies.values()
        ],
        index=pd.Index(list(accuracies), name="budget"),
    )


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _comparison(first: np.ndarray, second: np.ndarray, second_name: str) -> str:
    mean, low, high = paired_interval(first, second)
    outcome = verdict(low, high)
    if outcome == "no interval":
        return (
            f"differs from {second_name} by {_points(mean)} points on one draw: no interval can be given, "
            "so no winner either (set split.draws to 2 or more)"
        )
    interval = f"{CONFIDENCE:.0%} interval {_points(low)} to {_points(high)}"
    return {
        "better": f"beats {second_name} by {_points(mean)} points ({interval})",
        "worse": f"is beaten by {second_name}: {_points(mean)} points ({interval})",
        "within the noise": f"is within the noise of {second_name}: {_points(mean)} points ({interval})",
    }[outcome]


def _difference(first: np.ndarray, second: np.ndarray) -> str:
    """First minus second in points, with the interval of the paired difference and its verdict."""
    mean, low, high = paired_interval(first, second)
    outcome = verdict(low, high)
    return (
        f"{_points(mean)}, one draw"
        if outcome == "no interval"
        else f"{_points(mean)} ({_points(low)} to {_points(high)}): {outcome}"
    )


def graph_table(labels: dict, accuracies: dict) -> pd.DataFrame:
    """Label propagation's graph alone (each test image's nearest training images voting with the propagated
    labels: the labels stage's ``vote_test_accuracy``) against the whole recipe from the pretrained start, per
    budget: what the network trained on the propagated labels adds (empty when propagation did not run)."""
    rows = []
    for budget, methods in accuracies.items():
        if ("propagation", "pretrained") not in methods or str(budget) not in labels:
            continue
        alone, whole = per_draw(labels[str(budget)], "vote_test_accuracy"), methods[("propagation", "pretrained")]
        rows.append(
            {
                "labels": budget,
                "graph alone": f"{alone.mean():.4f}",
                "graph and network": f"{whole.mean():.4f}",
                "the network adds (points)": _difference(whole, alone),
            }
        )
    return pd.DataFrame(rows)


def pretraining_table(accuracies: dict) -> pd.DataFrame:
    """What the pretraining contributes to each recipe: pretrained minus random start in points, per budget, with
    the interval of that paired difference and its verdict (no columns when the run has not both starts)."""
    rows = []
    for budget, methods in accuracies.items():
        row = {"labels": budget}
        for (recipe, init), values in methods.items():
            if init == "pretrained" and (recipe, "random") in methods:
                row[method_title(recipe)] = _difference(values, methods[(recipe, "random")])
        rows.append(row)
    table = pd.DataFrame(rows)
    return table if len(table.columns) > 1 else pd.DataFrame()


def verdicts(accuracies: dict) -> list[str]:
    """Per budget: how the best recipe compares with logistic regression, and with its own random start."""
    sentences = []
    for budget, methods in accuracies.items():
        recipes = {key: values for key, values in methods.items() if key[1] is not None}
        if not recipes:
            continue
        (recipe, init), best = max(recipes.items(), key=lambda item: item[1].mean())
        draws = len(best)
        sentence = (
            f"With {budget} labels ({draws} draw{'s' if draws > 1 else ''}), the best recipe is "
            f"{method_title(recipe, init)} at {best.mean():.4f}; it "
            + _comparison(best, methods[(BASELINE, None)], "logistic regression")
        )
        twin = "random" if init == "pretrained" else "pretrained"
        if (recipe, twin) in methods:
            sentence += "; the pretrained start " + _comparison(
                *((best, methods[(recipe, twin)]) if init == "pretrained" else (methods[(recipe, twin)], best)),
                "the random start",
            )
        sentences.append(sentence + ".")
    return sentences

"""The few-label results of a run, read back from the classify, baseline and probe metrics: tables and verdicts.

Every comparison is paired over the same labelled draws; "better" needs the 95 % interval of the paired
difference to exclude zero (:mod:`pipeline.stats`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import fewlabel
from pipeline.config import INITIALISATIONS, RECIPES, Params
from pipeline.runtime import io, paths
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
            rows.append(fewlabel_row(budget, recipe, init == "pretrained", values, baseline if init else None))
    return pd.DataFrame(rows, columns=FEWLABEL_COLUMNS)


def fewlabel_row(budget: int, name: str, pretrained: bool, values: np.ndarray, against=None) -> dict:
    """One row of reports/fewlabel.csv: a method's accuracy over the draws and the interval of its paired
    difference to ``against`` (the pixels' draws; None for the pixels' own row)."""
    _, low, high = paired_interval(values, against) if against is not None else (0, np.nan, np.nan)
    return {
        "budget": budget,
        "recipe": name,
        "pretrained": pretrained,
        "draws": len(values),
        "mean_accuracy": values.mean(),
        "sd_accuracy": values.std(ddof=1) if len(values) > 1 else np.nan,
        "diff_vs_pixels_low": low,
        "diff_vs_pixels_high": high,
    }


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


def comparison(first: np.ndarray, second: np.ndarray, second_name: str) -> str:
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


def difference(first: np.ndarray, second: np.ndarray) -> str:
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
                "the network adds (points)": difference(whole, alone),
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
                row[method_title(recipe)] = difference(values, methods[(recipe, "random")])
        rows.append(row)
    table = pd.DataFrame(rows)
    return table if len(table.columns) > 1 else pd.DataFrame()


def best_recipe(methods: dict) -> tuple[tuple[str, str], np.ndarray] | None:
    """The (recipe, init) with the highest mean accuracy of one budget's methods, and its draws (None: no recipe)."""
    recipes = {key: values for key, values in methods.items() if key[1] is not None}
    return max(recipes.items(), key=lambda item: item[1].mean()) if recipes else None


def verdicts(accuracies: dict) -> list[str]:
    """Per budget: how the best recipe compares with logistic regression, and with its own random start."""
    sentences = []
    for budget, methods in accuracies.items():
        if (found := best_recipe(methods)) is None:
            continue
        (recipe, init), best = found
        draws = len(best)
        sentence = (
            f"With {budget} labels ({draws} draw{'s' if draws > 1 else ''}), the best recipe is "
            f"{method_title(recipe, init)} at {best.mean():.4f}; it "
            + comparison(best, methods[(BASELINE, None)], "logistic regression")
        )
        twin = "random" if init == "pretrained" else "pretrained"
        if (recipe, twin) in methods:
            sentence += "; the pretrained start " + comparison(
                *((best, methods[(recipe, twin)]) if init == "pretrained" else (methods[(recipe, twin)], best)),
                "the random start",
            )
        sentences.append(sentence + ".")
    return sentences

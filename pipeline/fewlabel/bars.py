"""The bars the few-label study holds itself to, and where a run stands against each: do the pretrained codings
beat the pixels, does the pretraining make a recipe, how near are the published few-label results? Each is
answered from this run's draws, with the same paired intervals as the rest of the report, and "no" said plainly."""

from __future__ import annotations

import pandas as pd

from pipeline.config import PIXELS
from pipeline.fewlabel.probe_results import PROBE_TITLES
from pipeline.fewlabel.results import best_recipe, difference, method_title
from pipeline.stats import paired_interval

FEW = 100  # the budget the first two bars are about: labels are fewest there
PROBE_GAIN = 0.05  # codings over the pixels, the same probe on the same draws, interval above 0
TWIN_GAIN = 0.03  # a recipe's pretrained start over its random start, interval above 0 ...
TWIN_FLOOR = 0.78  # ... in a recipe worth using
BEST = {  # the best recipe's mean, and the published results it is set against (Fashion-MNIST)
    100: (
        0.82,
        "graph-based learning (PoissonMBO) on a VAE's graph: 76.1 % (Calder et al. 2020); an augmented 13-layer CNN "
        "with parametric UMAP: 83.2 % at 160 labels (Sainburg et al. 2021, early-stopped on labelled images)",
    ),
    1000: (0.87, "the same CNN: 88.0 % at 640 labels"),
}


def bars_table(probes: dict, accuracies: dict) -> pd.DataFrame:
    """One row per bar whose budget this run has: the bar, this run's best attempt at it, and whether it is
    reached (empty when the run has none of the budgets)."""
    rows = []
    if FEW in probes:
        rows.append(_probe_bar(probes[FEW]))
    if FEW in accuracies:
        rows.append(_twin_bar(accuracies[FEW]))
    for budget, (bar, published) in BEST.items():
        if budget in accuracies:
            rows.append(_best_bar(budget, bar, published, accuracies[budget]))
    return pd.DataFrame([row for row in rows if row], columns=["question", "bar", "this run", "reached"])


def _reached(yes: bool) -> str:
    return "yes" if yes else "no"


def _probe_bar(methods: dict) -> dict | None:
    gains = {
        key: paired_interval(values, methods[(key[0], PIXELS)]) for key, values in methods.items() if key[1] != PIXELS
    }
    if not gains:
        return None
    (probe, layer), (mean, low, _) = max(gains.items(), key=lambda item: item[1][0])
    values = methods[(probe, layer)]
    return {
        "question": f"do the pretrained codings beat the pixels? ({FEW} labels)",
        "bar": f"a probe on some layer's codings {100 * PROBE_GAIN:+.0f} points over the same probe on the pixels, "
        "interval above 0",
        "this run": f"{layer} read by {PROBE_TITLES[probe]}: {values.mean():.4f}, "
        f"{difference(values, methods[(probe, PIXELS)])}",
        "reached": _reached(mean >= PROBE_GAIN and low > 0),
    }


def _twin_bar(methods: dict) -> dict:
    row = {
        "question": f"does the pretraining make a recipe? ({FEW} labels)",
        "bar": f"a recipe's pretrained start {100 * TWIN_GAIN:+.0f} points over its random start, interval above 0, "
        f"at a mean of at least {TWIN_FLOOR:.2f}",
    }
    twins = {}
    for (recipe, init), values in methods.items():
        if init == "pretrained" and (recipe, "random") in methods:
            mean, low, _ = paired_interval(values, methods[(recipe, "random")])
            twins[recipe] = (mean >= TWIN_GAIN and low > 0 and values.mean() >= TWIN_FLOOR, mean)
    if not twins:
        return {**row, "this run": "no recipe also started from a random encoder", "reached": _reached(False)}
    recipe = max(twins, key=lambda name: twins[name])  # one that reaches the bar, else the largest gain
    values = methods[(recipe, "pretrained")]
    return {
        **row,
        "this run": f"{method_title(recipe)}: {values.mean():.4f}, {difference(values, methods[(recipe, 'random')])}",
        "reached": _reached(twins[recipe][0]),
    }


def _best_bar(budget: int, bar: float, published: str, methods: dict) -> dict | None:
    if (found := best_recipe(methods)) is None:
        return None
    (recipe, init), values = found
    return {
        "question": f"how near the published few-label results? ({budget} labels)",
        "bar": f"the best recipe at {bar:.2f} or more; published: {published}",
        "this run": f"{method_title(recipe, init)}: {values.mean():.4f}",
        "reached": _reached(values.mean() >= bar),
    }

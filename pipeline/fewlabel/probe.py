"""The codings probe: how well two cheap classifiers read the classes off a representation (the pixels, or one
pretrained layer's codings) from the few-label draws every recipe trains on. No network is trained: the probe
reruns with every pretraining change and says whether the codings alone pay before any recipe is fine-tuned on
them (k nearest neighbours take seconds; the logistic regression's lbfgs most of the stage's time)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import pandas as pd

from pipeline.data.split import draw_count, labelled
from pipeline.fewlabel.processes import gathered, map_in_processes, split_evenly
from pipeline.stats import summarise

# Each probe's metric in the per-draw records: the logistic regression keeps the name the baseline always had.
PROBE_METRICS = {"logistic": "test_accuracy", "neighbours": "neighbours_test_accuracy"}


def probe_models(settings, seed: int) -> dict:
    """The probes, fresh and unfitted (``settings``: params.yaml's baseline block). Both read the features as
    they are: standardising would change the pixels' yardstick, which the baseline has always measured raw."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    return {
        "logistic": LogisticRegression(C=settings.C, max_iter=settings.max_iter, random_state=seed),
        "neighbours": KNeighborsClassifier(settings.neighbours),
    }


def probe_draws(
    features: dict[str, np.ndarray],
    table: pd.DataFrame,
    budgets: Iterable[int],
    settings,
    seed: int,
    processes: int = 1,
) -> dict[str, dict]:
    """Each budget's probe accuracies on every labelled draw of ``table``, summarised as the recipes' are:
    ``{budget: summarise(...)}``, each draw's record holding both probes' test accuracies. The draws are probed in
    ``processes`` processes at once (:func:`~pipeline.fewlabel.processes.map_in_processes`); each fit runs on one
    thread wherever it runs, so the accuracies do not depend on ``processes``."""
    test_labels = table.loc[table["subset"] == "test", "label"].to_numpy()
    tasks = [(budget, draw) for budget in budgets for draw in range(1, draw_count(table) + 1)]
    probe = functools.partial(_probe_share, features, test_labels, settings, seed)
    shares = split_evenly([labelled(table, budget, draw) for budget, draw in tasks], processes)
    records = gathered(map_in_processes(probe, shares, processes))
    results = {}
    for budget in budgets:
        per_draw = [record for (done, _), record in zip(tasks, records, strict=True) if done == budget]
        results[str(budget)] = {
            name: value for metric in PROBE_METRICS.values() for name, value in summarise(per_draw, metric).items()
        }
    return results


def _probe_share(features, test_labels, settings, seed: int, draws) -> list[dict[str, float]]:
    """Both probes' test accuracies on each of ``draws`` (labelled rows, labels), BLAS on one thread: lbfgs's path,
    and so the accuracies, depend on how its sums are split between threads."""
    from threadpoolctl import threadpool_limits

    records = []
    with threadpool_limits(limits=1):
        for rows, labels in draws:
            record = {}
            for name, model in probe_models(settings, seed).items():
                model.fit(features["train"][rows], labels)
                record[PROBE_METRICS[name]] = float(model.score(features["test"], test_labels))
            records.append(record)
    return records

"""Accuracies over label draws: mean and spread, and paired confidence intervals between two methods.

Two methods trained on the same draws (the same labelled images) are compared draw by draw: the mean of
their differences with a Student-t interval. A difference whose interval holds zero is within the noise.
No TensorFlow here: the report and the comparison read these numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def draw_key(draw: int) -> str:
    return f"draw_{draw}"


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of right answers (the most probable class), rounded to float32 as Keras's accuracy metric reports it."""
    right = np.argmax(probabilities, axis=-1) == labels
    return float(np.float32(np.count_nonzero(right)) / np.float32(len(labels)))


def summarise(per_draw: Sequence[Mapping[str, float]], metric: str = "test_accuracy") -> dict:
    """Every draw's metrics plus the mean and sample standard deviation of ``metric`` (None for one draw:
    JSON has no NaN)."""
    values = np.array([draw[metric] for draw in per_draw], dtype=np.float64)
    return {
        f"{metric}_mean": float(values.mean()),
        f"{metric}_sd": float(values.std(ddof=1)) if len(values) > 1 else None,
        **{draw_key(index + 1): dict(draw) for index, draw in enumerate(per_draw)},
    }


def over_draws(values: Sequence[float]) -> str:
    """The mean of a measure and each draw's value, as a stage's one line per budget says them."""
    return f"mean {np.mean(values):.4f} (draws: {', '.join(f'{value:.4f}' for value in values)})"


def summary_metrics(summaries: Mapping[str, Mapping], prefix: str = "") -> dict[str, float]:
    """Means and spreads of :func:`summarise` results by key (``{budget: summary}``), flat for MLflow as
    ``<prefix><key>_<name>``; the draws' own records are left out."""
    return {
        f"{prefix}{key}_{name}": value
        for key, summary in summaries.items()
        for name, value in summary.items()
        if not name.startswith("draw_")
    }


def per_draw(summary: Mapping, metric: str = "test_accuracy") -> np.ndarray:
    """The draws' values of ``metric`` from a :func:`summarise` result, in draw order."""
    draws = sorted((key for key in summary if key.startswith("draw_")), key=lambda key: int(key.split("_")[1]))
    return np.array([summary[key][metric] for key in draws], dtype=np.float64)


def paired_interval(
    first: Sequence[float], second: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Mean of first - second over paired draws and its Student-t confidence interval (NaN bounds for one draw)."""
    differences = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    if len(differences) != len(np.asarray(second)) or len(differences) == 0:
        raise ValueError(
            f"paired_interval: got {len(first)} and {len(second)} draws, need the same number, at least one"
        )
    mean = float(differences.mean())
    if len(differences) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf((1 + confidence) / 2, len(differences) - 1) * differences.std(ddof=1) / np.sqrt(len(differences))
    return mean, mean - half, mean + half


def unpaired_interval(
    first: tuple[float, float, int], second: tuple[float, float, int], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Welch interval of mean1 - mean2 from (mean, sd, draws) each: for runs whose draws are not known to match."""
    (mean1, sd1, count1), (mean2, sd2, count2) = first, second
    difference = mean1 - mean2
    if min(count1, count2) < 2 or np.isnan(sd1) or np.isnan(sd2):
        return difference, float("nan"), float("nan")
    variance1, variance2 = sd1**2 / count1, sd2**2 / count2
    if variance1 + variance2 == 0:
        return difference, difference, difference
    freedom = (variance1 + variance2) ** 2 / (variance1**2 / (count1 - 1) + variance2**2 / (count2 - 1))
    half = stats.t.ppf((1 + confidence) / 2, freedom) * np.sqrt(variance1 + variance2)
    return difference, difference - half, difference + half


def verdict(low: float, high: float) -> str:
    """'better', 'worse', 'within the noise', or 'no interval' (one draw cannot measure the noise)."""
    if np.isnan(low) or np.isnan(high):
        return "no interval"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "within the noise"

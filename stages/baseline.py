"""Stage `baseline`: logistic regression on raw pixels with the same labelled draws, the plain yardstick."""

import pandas as pd
from sklearn.linear_model import LogisticRegression

from pipeline import config, io, paths, tracking
from pipeline.config import PIXELS
from pipeline.data import shards
from pipeline.data.split import draw_count, labelled, labels_of
from pipeline.stats import summarise
from stages._common import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    table = pd.read_csv(paths.SPLIT_TABLE)
    pixels = shards.read_arrays(paths.features(PIXELS), ["train", "test"])
    test_labels = labels_of(table, "test")
    metrics = {}
    for budget in params.split.budgets:
        per_draw = []
        for draw in range(1, draw_count(table) + 1):
            rows, labels = labelled(table, budget, draw)
            model = LogisticRegression(C=params.baseline.C, max_iter=params.baseline.max_iter, random_state=params.seed)
            model.fit(pixels["train"][rows], labels)
            per_draw.append({"test_accuracy": float(model.score(pixels["test"], test_labels))})
        metrics[str(budget)] = summarise(per_draw)
    io.write_json(paths.BASELINE_METRICS, metrics)
    with tracking.stage_run(
        stage_name("baseline"),
        params.mlflow.experiment,
        {"seed": params.seed, "draws": draw_count(table), **params.baseline.model_dump()},
        inputs=[paths.SPLIT_TABLE, paths.features(PIXELS)],
    ) as logged:
        logged.log_metrics(
            {
                f"{budget}_{name}": value
                for budget, summary in metrics.items()
                for name, value in summary.items()
                if not name.startswith("draw_")
            }
        )


if __name__ == "__main__":
    run(main)

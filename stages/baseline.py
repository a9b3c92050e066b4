"""Stage `baseline`: logistic regression on raw pixels with the same labels, the plain yardstick."""

import pandas as pd
from sklearn.linear_model import LogisticRegression

from pipeline import config, io, paths, tracking
from pipeline.config import PIXELS
from pipeline.data.split import labelled, labels_of
from stages._common import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    table = pd.read_csv(paths.SPLIT_TABLE)
    pixels = io.read_arrays(paths.features(PIXELS), ["train", "test"])
    test_labels = labels_of(table, "test")
    accuracy = {}
    for budget in params.split.budgets:
        rows, labels = labelled(table, budget)
        model = LogisticRegression(C=params.baseline.C, max_iter=params.baseline.max_iter, random_state=params.seed)
        model.fit(pixels["train"][rows], labels)
        accuracy[str(budget)] = float(model.score(pixels["test"], test_labels))
    io.write_json(paths.BASELINE_METRICS, {"test_accuracy": accuracy})
    with tracking.stage_run(stage_name("baseline"), params.mlflow.experiment,
                            {"seed": params.seed, **params.baseline.model_dump()},
                            inputs=[paths.SPLIT_TABLE, paths.features(PIXELS)]) as logged:
        logged.log_metrics({f"test_accuracy_{budget}": value for budget, value in accuracy.items()})


if __name__ == "__main__":
    run(main)

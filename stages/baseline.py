"""Stage `baseline`: the probes (logistic regression and k nearest neighbours) on raw pixels with the same labelled
draws as the recipes: the plain yardstick, and what the probe of each layer's codings is paired against."""

import pandas as pd

from pipeline import config
from pipeline.config import PIXELS
from pipeline.data.split import draw_count
from pipeline.fewlabel.probe import probe_draws
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.stats import summary_metrics


def main(argv: list[str]) -> None:
    params = config.load()
    table = pd.read_csv(paths.SPLIT_TABLE)
    pixels = shards.read_arrays(paths.features(PIXELS), ["train", "test"])
    metrics = probe_draws(pixels, table, params.split.budgets, params.baseline, params.seed, params.classify.processes)
    io.write_json(paths.BASELINE_METRICS, metrics)
    with tracking.stage_run(
        stage_name("baseline"),
        params.mlflow.experiment,
        {"seed": params.seed, "draws": draw_count(table), **params.baseline.model_dump()},
        inputs=[paths.SPLIT_TABLE, paths.features(PIXELS)],
    ) as logged:
        logged.log_metrics(summary_metrics(metrics))


if __name__ == "__main__":
    run(main)

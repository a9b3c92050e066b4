"""Stage `probe`: logistic regression and k nearest neighbours on each pretrained layer's codings, on the same
labelled draws as the recipes; the same probes on the pixels are the baseline stage's, to pair against."""

import pandas as pd

from pipeline import config
from pipeline.data.split import draw_count
from pipeline.fewlabel.probe import probe_draws
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.stats import summary_metrics


def main(argv: list[str]) -> None:
    params = config.load()
    table = pd.read_csv(paths.SPLIT_TABLE)
    metrics = {}
    for layer in params.pretrain.layers:
        codings = shards.read_arrays(paths.features(layer), ["train", "test"])
        metrics[layer] = probe_draws(
            codings, table, params.split.budgets, params.baseline, params.seed, params.classify.processes
        )
        print(
            f"probe of {layer}'s codings: "
            + ", ".join(
                f"{budget} labels {summary['test_accuracy_mean']:.4f}" for budget, summary in metrics[layer].items()
            )
            + " (logistic regression, mean over the draws)",
            flush=True,
        )
    io.write_json(paths.PROBE_METRICS, metrics)
    with tracking.stage_run(
        stage_name("probe"),
        params.mlflow.experiment,
        {
            "seed": params.seed,
            "draws": draw_count(table),
            "layers": list(params.pretrain.layers),
            **params.baseline.model_dump(),
        },
        inputs=[paths.SPLIT_TABLE, *(paths.features(layer) for layer in params.pretrain.layers)],
    ) as logged:
        for layer, summaries in metrics.items():
            logged.log_metrics(summary_metrics(summaries, prefix=f"{layer}_"))


if __name__ == "__main__":
    run(main)

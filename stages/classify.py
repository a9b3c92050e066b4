"""Stage `classify@<budget>-<init>`: the encoder stack plus a softmax head, on one labelled subset."""

import pandas as pd

from pipeline import config, io, paths, tracking
from pipeline.config import INITS, PIXELS
from pipeline.data.split import labelled, labels_of
from pipeline.errors import ConfigError
from pipeline.greedy import train_classifier
from pipeline.models.autoencoders import weight_names
from pipeline.report import figures
from pipeline.training import make_deterministic
from stages._common import run, stage_name


def parse_args(argv: list[str], budgets: list[int]) -> tuple[int, str]:
    if len(argv) != 2 or not argv[0].isdigit() or int(argv[0]) not in budgets or argv[1] not in INITS:
        raise ConfigError(f"classify: got {argv}, must be a budget from split.budgets {budgets} and an init from {list(INITS)}")
    return int(argv[0]), argv[1]


def main(argv: list[str]) -> None:
    params = config.load()
    budget, init = parse_args(argv, params.split.budgets)
    layers = params.pretrain.layers
    table = pd.read_csv(paths.SPLIT_TABLE)
    card = io.read_json(paths.CARD)
    pixels = io.read_arrays(paths.features(PIXELS), ["train", "valid", "test"])
    encoder_weights = {
        name: io.read_arrays(paths.STACK_MODEL / name, weight_names(layer)) for name, layer in layers.items()
    }
    rows, labels = labelled(table, budget)
    validation = (pixels["valid"], labels_of(table, "valid")) if params.classify.use_validation_labels else None
    make_deterministic(params.seed)
    result = train_classifier(
        layers, encoder_weights, init, (pixels["train"][rows], labels), (pixels["test"], labels_of(table, "test")),
        len(card["class_names"]), params.classify, validation,
    )

    io.write_csv(paths.classify_history(budget, init), result.history)
    io.write_json(paths.classify_metrics(budget, init), result.metrics)
    with tracking.stage_run(stage_name(f"classify@{budget}-{init}"), params.mlflow.experiment,
                            {"seed": params.seed, "budget": budget, "init": init, **params.classify.model_dump()},
                            inputs=[paths.STACK_MODEL, paths.SPLIT_TABLE, paths.features(PIXELS)]) as logged:
        logged.log_history(result.history)
        logged.log_metrics(result.metrics)
        logged.log_figure(figures.learning_curves({f"{budget} labels, {init}": result.history},
                                                  ("loss",), "cross-entropy"), "learning_curve.png")


if __name__ == "__main__":
    run(main)

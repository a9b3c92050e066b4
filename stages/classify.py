"""Stage `classify@<budget>-<recipe>`: one few-label recipe on every labelled draw, from each initialisation."""

import pandas as pd

from pipeline import config, io, paths, tracking
from pipeline.config import PIXELS
from pipeline.data import shards
from pipeline.data.split import draw_count, labelled, labels_of
from pipeline.errors import ConfigError
from pipeline.fewlabel import recipe
from pipeline.fewlabel.common import Problem, draw_seed
from pipeline.models.autoencoders import weight_names
from pipeline.stats import draw_key, summarise
from pipeline.training import is_chief, make_deterministic, stage_strategy
from stages._common import run, stage_name


def parse_args(argv: list[str], budgets: list[int]):
    if len(argv) != 2 or not argv[0].isdigit() or int(argv[0]) not in budgets:
        raise ConfigError(f"classify: got {argv}, must be a budget from split.budgets {budgets} and a recipe")
    return int(argv[0]), recipe(argv[1])


def main(argv: list[str]) -> None:
    params = config.load()
    budget, chosen = parse_args(argv, params.split.budgets)
    train = chosen.train().train
    table = pd.read_csv(paths.SPLIT_TABLE)
    card = io.read_json(paths.CARD)
    pool = shards.read_subsets(paths.features(PIXELS), ["train"], **params.train.reading())["train"]
    pixels = io.read_arrays(paths.features(PIXELS), ["valid", "test"])
    strategy = stage_strategy(params.train, chosen.name, chosen.distributed)
    if strategy is None:
        return  # the chief trains this recipe alone
    weights = {
        name: io.read_arrays(paths.STACK_MODEL / name, weight_names(layer))
        for name, layer in params.pretrain.layers.items()
    }
    settings = getattr(params.classify, chosen.name)
    validation = (pixels["valid"], labels_of(table, "valid")) if params.classify.use_validation_labels else None
    results = {init: [] for init in params.classify.initialisations}
    for draw in range(1, draw_count(table) + 1):
        rows, labels = labelled(table, budget, draw)
        for init in params.classify.initialisations:
            seed = draw_seed(params.seed, draw)
            make_deterministic(seed)
            problem = Problem(
                layers=params.pretrain.layers,
                weights=weights,
                pool=pool,
                labelled_rows=rows,
                labels=labels,
                test=(pixels["test"], labels_of(table, "test")),
                class_count=len(card["class_names"]),
                seed=seed,
                pool_seed=draw_seed(params.seed, 0),
                pool_labels=labels_of(table, "train"),
                validation=validation,
            )
            with strategy.scope():
                results[init].append(train(problem, settings, pretrained=init == "pretrained"))
            print(
                f"{chosen.name}, {init}, draw {draw}: test accuracy {results[init][-1]['test_accuracy']:.4f}",
                flush=True,
            )
    if not is_chief(strategy):
        return  # a worker of a multi-worker cluster: the chief writes the outputs
    metrics = {init: summarise(per_draw) for init, per_draw in results.items()}
    io.write_json(paths.classify_metrics(budget, chosen.name), metrics)
    with tracking.stage_run(
        stage_name(f"classify@{budget}-{chosen.name}"),
        params.mlflow.experiment,
        {
            "seed": params.seed,
            "budget": budget,
            "recipe": chosen.name,
            "draws": draw_count(table),
            "initialisations": params.classify.initialisations,
            **settings.model_dump(),
        },
        inputs=[paths.STACK_MODEL, paths.SPLIT_TABLE, paths.features(PIXELS)],
    ) as logged:
        logged.log_metrics(
            {
                f"{init}_{name}": value
                for init, summary in metrics.items()
                for name, value in summary.items()
                if not name.startswith("draw_")
            }
        )
        logged.log_metrics(
            {
                f"{init}_{draw_key(index + 1)}_{name}": value
                for init, per_draw in results.items()
                for index, draw in enumerate(per_draw)
                for name, value in draw.items()
            }
        )


if __name__ == "__main__":
    run(main)

"""Stages `classify@<recipe>` and `random-start@<recipe>`: one few-label recipe on every labelled draw of every
budget, from the pretrained stack's encoder or from a random one (the twin that shows what the pretraining adds; it
depends on the encoder's shape, not on its pretraining). One process per recipe and start: TensorFlow starts and
the train step compiles once for all the budgets."""

import time

import pandas as pd

from pipeline import config
from pipeline.config import INITIALISATIONS, PIXELS, LayerParams
from pipeline.data.split import draw_count, draw_seed, labels_of
from pipeline.errors import ConfigError
from pipeline.fewlabel import recipe
from pipeline.fewlabel.common import Problem
from pipeline.fewlabel.labels import read_draws
from pipeline.models.autoencoders import weight_names
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.stats import draw_key, over_draws, summarise
from pipeline.training import CompiledTwins, is_chief, make_deterministic, stage_strategy


def parse_args(argv: list[str]):
    if len(argv) != 2 or argv[1] not in INITIALISATIONS:
        raise ConfigError(f"classify: got {argv}, must be a recipe and a start, one of {list(INITIALISATIONS)}")
    return recipe(argv[0]), argv[1]


def main(argv: list[str]) -> None:
    params = config.load()
    chosen, init = parse_args(argv)
    strategy = stage_strategy(params.train, chosen.name, chosen.distributed)
    if strategy is None:
        return  # the chief trains this recipe alone
    results = train_every_draw(params, chosen, init, strategy)
    if not is_chief(strategy):
        return  # a worker of a multi-worker cluster: the chief writes the outputs
    metrics = {str(budget): {init: summarise(per_draw)} for budget, per_draw in results.items()}
    io.write_json(paths.classify_metrics(chosen.name, init), metrics)
    log_run(params, chosen.name, init, results, metrics)


def train_every_draw(params, chosen, init: str, strategy) -> dict[int, list[dict[str, float]]]:
    """The recipe's scores on each draw of each budget, one line per budget; the draws share one compiled model."""
    train = chosen.train().train
    table = pd.read_csv(paths.SPLIT_TABLE)
    pool = shards.read_subsets(paths.features(PIXELS), ["train"], **params.train.reading())["train"]
    pixels = shards.read_arrays(paths.features(PIXELS), ["valid", "test"])
    layers = {name: LayerParams(**shape) for name, shape in io.read_json(paths.ARCHITECTURE).items()}
    weights = {}
    if init == "pretrained":
        weights = {
            name: shards.read_arrays(paths.STACK_MODEL / name, weight_names(layer))
            for name, layer in params.pretrain.layers.items()
        }
    settings = getattr(params.classify, chosen.name)
    validation = (pixels["valid"], labels_of(table, "valid")) if params.classify.use_validation_labels else None
    class_count = len(io.read_json(paths.CARD)["class_names"])
    twins = CompiledTwins()
    results = {}
    for budget in params.split.budgets:
        results[budget] = []
        started = time.perf_counter()
        for draw, (rows, labels, graph) in enumerate(read_draws(paths.LABELS / chosen.name / str(budget)), 1):
            seed = draw_seed(params.seed, draw)
            make_deterministic(seed)
            problem = Problem(
                layers=layers,
                weights=weights,
                pool=pool,
                labelled_rows=rows,
                labels=labels,
                test=(pixels["test"], labels_of(table, "test")),
                class_count=class_count,
                seed=seed,
                graph=graph,
                validation=validation,
                twins=twins,
            )
            with strategy.scope():
                results[budget].append(train(problem, settings, pretrained=init == "pretrained"))
        accuracies = [draw["test_accuracy"] for draw in results[budget]]
        seconds = time.perf_counter() - started
        print(
            f"{chosen.name}, {init} start, {budget} labels: test accuracy {over_draws(accuracies)} ({seconds:.1f} s)",
            flush=True,
        )
    return results


def log_run(params, recipe_name: str, init: str, results: dict, metrics: dict) -> None:
    """The stage's MLflow run: its settings, each budget's summary and each draw's scores."""
    with tracking.stage_run(
        stage_name(f"{'classify' if init == 'pretrained' else 'random-start'}@{recipe_name}"),
        params.mlflow.experiment,
        {
            "seed": params.seed,
            "budgets": params.split.budgets,
            "recipe": recipe_name,
            "draws": draw_count(pd.read_csv(paths.SPLIT_TABLE)),
            "start": init,
            **getattr(params.classify, recipe_name).model_dump(),
        },
        inputs=[*([paths.STACK_MODEL] if init == "pretrained" else []), paths.LABELS / recipe_name],
    ) as logged:
        logged.log_metrics(
            {
                f"{budget}_{init}_{name}": value
                for budget, summaries in metrics.items()
                for name, value in summaries[init].items()
                if not name.startswith("draw_")
            }
        )
        logged.log_metrics(
            {
                f"{budget}_{init}_{draw_key(index + 1)}_{name}": value
                for budget, per_draw in results.items()
                for index, draw in enumerate(per_draw)
                for name, value in draw.items()
            }
        )


if __name__ == "__main__":
    run(main)

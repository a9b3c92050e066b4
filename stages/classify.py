"""Stages `classify@<recipe>` and `random-start@<recipe>`: one few-label recipe on every labelled draw of every
budget, from the pretrained stack's encoder or from a random one (the twin that shows what the pretraining adds; it
depends on the encoder's shape, not on its pretraining). The draws are dealt out to classify.processes processes;
in each, TensorFlow starts and the train step compiles once for all its draws. TensorFlow is imported only where
it trains (:mod:`pipeline.training` imports it lazily)."""

import pandas as pd

from pipeline import config
from pipeline.config import INITIALISATIONS
from pipeline.data.split import draw_count
from pipeline.errors import ConfigError
from pipeline.fewlabel import recipe
from pipeline.fewlabel.draws import DrawTrainings, Trained
from pipeline.fewlabel.processes import gathered, map_in_processes, split_evenly
from pipeline.runtime import io, paths, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.stats import draw_key, over_draws, summarise
from pipeline.training import is_chief, stage_strategy


def parse_args(argv: list[str]):
    if len(argv) != 2 or argv[1] not in INITIALISATIONS:
        raise ConfigError(f"classify: got {argv}, must be a recipe and a start, one of {list(INITIALISATIONS)}")
    return recipe(argv[0]), argv[1]


def main(argv: list[str]) -> None:
    params = config.load()
    chosen, init = parse_args(argv)
    trainings = DrawTrainings(params, chosen.name, init)
    if params.train.strategy == "default":
        # one device: the draws dealt out to processes; this one gathers their scores and starts no TensorFlow
        shares = split_evenly(trainings.tasks(), params.classify.processes)
        trained = gathered(map_in_processes(trainings, shares, params.classify.processes))
    else:  # a distribution strategy cannot be pickled: the draws train here, one after another
        strategy = stage_strategy(params.train, chosen.name, chosen.distributed)
        if strategy is None:
            return  # the chief trains this recipe alone
        trained = trainings(trainings.tasks(), strategy)
        if not is_chief(strategy):
            return  # a worker of a multi-worker cluster: the chief writes the outputs
    results = by_budget(trained, chosen.name, init)
    metrics = {str(budget): {init: summarise(per_draw)} for budget, per_draw in results.items()}
    io.write_json(paths.classify_metrics(chosen.name, init), metrics)
    log_run(params, chosen.name, init, results, metrics)


def by_budget(trained: list[Trained], recipe_name: str, init: str) -> dict[int, list[dict[str, float]]]:
    """Each draw's scores, in the order of the tasks (budget by budget, draw by draw); one line printed per budget."""
    results = {}
    for budget in dict.fromkeys(training.budget for training in trained):
        done = [training for training in trained if training.budget == budget]
        results[budget] = [training.scores for training in done]
        accuracies = [scores["test_accuracy"] for scores in results[budget]]
        seconds = sum(training.seconds for training in done)
        print(
            f"{recipe_name}, {init} start, {budget} labels: test accuracy {over_draws(accuracies)} "
            f"({seconds:.1f} s of training)",
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

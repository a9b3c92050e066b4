"""Stage `labels`: what each recipe learns from on every labelled draw of every budget, before any encoder: the
labelled few and, for the recipes that learn from the graph, the labels propagated over it and the vote of each
test image's nearest training images. It depends on the images and the labels alone: a change to the pretraining
never reruns it. The draws are spread in classify.processes processes at once."""

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.data.split import draw_count, labelled, labels_of
from pipeline.fewlabel import recipe
from pipeline.fewlabel.labels import recipe_arrays
from pipeline.fewlabel.propagation.graph import Neighbours, weights
from pipeline.fewlabel.propagation.spread import spread_draws
from pipeline.runtime import io, paths, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.stats import accuracy, over_draws, summarise, summary_metrics


def main(argv: list[str]) -> None:
    params = config.load()
    table = pd.read_csv(paths.SPLIT_TABLE)
    class_count = len(io.read_json(paths.CARD)["class_names"])
    recipes = [recipe(name) for name in params.classify.recipes]
    draws = {
        budget: [labelled(table, budget, draw) for draw in range(1, draw_count(table) + 1)]
        for budget in params.split.budgets
    }
    graph, metrics = {}, {}
    if any(chosen.learns_from_graph for chosen in recipes):
        settings = params.classify.propagation
        neighbours = Neighbours(**io.read_array_folder(paths.GRAPH))
        spread = spread_draws(
            neighbours,
            weights(neighbours, settings.neighbours),
            [draw for budget_draws in draws.values() for draw in budget_draws],
            class_count,
            settings.method,
            settings.neighbours,
            params.classify.processes,
        )
        count = draw_count(table)
        for index, budget in enumerate(draws):
            graph[budget] = spread[index * count : (index + 1) * count]
            per_draw = [
                {
                    # how right the propagated labels are: a diagnostic a real few-label user could not compute
                    "propagated_label_accuracy": float(np.mean(said.propagated == labels_of(table, "train"))),
                    "vote_test_accuracy": accuracy(said.test_vote, labels_of(table, "test")),
                }
                for said in graph[budget]
            ]
            print(
                f"labels, {budget} labels: the vote alone scores "
                f"{over_draws([draw['vote_test_accuracy'] for draw in per_draw])} on test",
                flush=True,
            )
            metrics[str(budget)] = summarise(per_draw, "vote_test_accuracy")
    io.write_arrays(
        paths.LABELS,
        {
            chosen.name: {
                str(budget): recipe_arrays(budget_draws, graph[budget] if chosen.learns_from_graph else None)
                for budget, budget_draws in draws.items()
            }
            for chosen in recipes
        },
    )
    io.write_json(paths.LABELS_METRICS, metrics)
    with tracking.stage_run(
        stage_name("labels"),
        params.mlflow.experiment,
        {"seed": params.seed, "budgets": params.split.budgets, "draws": draw_count(table)},
        inputs=[paths.SPLIT_TABLE, paths.GRAPH],
    ) as logged:
        logged.log_metrics(summary_metrics(metrics))


if __name__ == "__main__":
    run(main)

#!/usr/bin/env python3
"""How long the two costliest few-label recipes must train, judged on the validation split only.

For each labelled draw of each budget, from the pretrained stack's encoder and from a random one: the supervised
recipe trained at its params.yaml length and at shorter ones, each scored on the 5,000 validation images; the
propagation recipe (its student, averaged with the graph's vote as the recipe answers) trained once, scored after
each epoch. Each epoch's batches are a pure function of (seed, epoch) and Adam's learning rate is constant, so the
score after k epochs is that of a training of k epochs. The test labels are not read.

Prints, per recipe, start, budget and length, the mean validation accuracy and its paired difference to the full
length with the 95 % interval. Run from the repository root after `dvc repro` (it reads data/split.csv,
data/features/pixels and the stack's weights):

    python scripts/training_length.py [--budgets 100,1000] [--recipes supervised,autoencoder,propagation]
        [--starts pretrained,random]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline.runtime import environment  # noqa: E402

environment.apply()  # the project's variables, and TensorFlow without its start-up chatter

import numpy as np  # noqa: E402
from codings_graph import patch_graph, pretrained_stack  # noqa: E402
from pretraining_variants import validation_split  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.config import PIXELS  # noqa: E402
from pipeline.data.split import draw_count, draw_seed, labelled  # noqa: E402
from pipeline.fewlabel.common import epochs_for_steps, predict  # noqa: E402
from pipeline.fewlabel.propagation.spread import graph_labels  # noqa: E402
from pipeline.fewlabel.propagation.train import fit_student  # noqa: E402
from pipeline.runtime import paths, shards  # noqa: E402
from pipeline.stats import accuracy, paired_interval, verdict  # noqa: E402

SHORTER_STEPS = (750, 1500)  # tried below a recipe's own number of steps


def scored_epochs(on_epochs: dict[int, str], answer) -> tuple[list, dict]:
    """A Keras callback that records ``answer(model)`` of the model in training after each epoch named in
    ``on_epochs`` (epoch -> label)."""
    import keras

    scores: dict[str, float] = {}

    class Score(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in on_epochs:
                scores[on_epochs[epoch + 1]] = answer(self.model)

    return [Score()], scores


def lengths(steps: int) -> list[int]:
    """The shorter lengths tried, then the recipe's own."""
    return [*(shorter for shorter in SHORTER_STEPS if shorter < steps), steps]


def fresh_classifier(problem, start: str):
    """The recipes' encoder + head, from the pretrained stack's weights or a random ``start``."""
    from pipeline.models.autoencoders import classifier

    return classifier(
        problem["layers"],
        problem["pool"].shape[1],
        problem["classes"],
        problem["weights"] if start == "pretrained" else None,
        trainable_encoder=True,
    )


def supervised(params, problem, start: str) -> dict[str, float]:
    """The supervised recipe's validation accuracy after each of :func:`lengths` updates: one training per length,
    as the recipe would train with that many steps (a Keras epoch of 4 steps at 100 labels costs more to start and
    end than to run, so scoring along one long training would be slower)."""
    from pipeline.training import fit, make_deterministic

    settings = params.classify.supervised
    rows, labels, (valid_images, valid_labels) = problem["rows"], problem["labels"], problem["valid"]
    scores = {}
    for steps in lengths(settings.steps):
        make_deterministic(problem["seed"])
        model = fresh_classifier(problem, start)
        fit(
            model,
            problem["pool"][rows],
            labels,
            epochs=epochs_for_steps(steps, len(labels), settings.batch_size),
            batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            loss="sparse_categorical_crossentropy",
            history=False,
        )
        scores[f"{steps} steps"] = accuracy(predict(model, valid_images), valid_labels)
    return scores


def autoencoder(params, problem, start: str) -> dict[str, float]:
    """The semi-supervised autoencoder's validation accuracy after each of :func:`lengths` steps, one training each."""
    from pipeline.fewlabel.autoencoder.train import fit_semi_supervised
    from pipeline.fewlabel.common import Problem
    from pipeline.training import make_deterministic

    settings = params.classify.autoencoder
    task = Problem(
        layers=problem["layers"],
        weights=problem["weights"],
        pool=problem["pool"],
        labelled_rows=problem["rows"],
        labels=problem["labels"],
        test=problem["valid"],
        class_count=problem["classes"],
        seed=problem["seed"],
    )
    scores = {}
    for steps in lengths(settings.steps):
        make_deterministic(problem["seed"])
        model = fit_semi_supervised(task, settings.model_copy(update={"steps": steps}), start == "pretrained")
        scores[f"{steps} steps"] = accuracy(predict(model, task.test[0]), task.test[1])
    return scores


def propagation(params, problem, start: str) -> dict[str, float]:
    """The propagation recipe's validation accuracy (student and vote, as the recipe answers) after each epoch."""
    settings = params.classify.propagation
    pool, rows, labels, said, (valid_images, valid_labels) = (
        problem[key] for key in ("pool", "rows", "labels", "graph", "valid")
    )
    model = fresh_classifier(problem, start)
    weight = settings.vote_weight

    def answer(m) -> float:
        return accuracy((1 - weight) * predict(m, valid_images) + weight * said.test_vote, valid_labels)

    callbacks, scores = scored_epochs({epoch: f"{epoch} epochs" for epoch in range(1, settings.epochs + 1)}, answer)
    fit_student(model, pool, said.targets(rows, labels), rows, labels, settings, callbacks=callbacks)
    scores["the vote alone"] = accuracy(said.test_vote, valid_labels)
    return scores


RECIPES = {"supervised": supervised, "autoencoder": autoencoder, "propagation": propagation}


def main(budgets: list[int], recipes: list[str], starts: list[str]) -> None:
    from pipeline.training import make_deterministic

    params = config.load()
    table, valid_labels, classes = validation_split()
    pixels = shards.read_arrays(paths.features(PIXELS), ["train", "valid"])
    layers, stack = pretrained_stack(params)
    settings = params.classify.propagation
    if "propagation" in recipes:
        started = time.perf_counter()
        neighbours, graph_weights = patch_graph(pixels, params)
        print(f"graph of the training images, validation images placed in it: {time.perf_counter() - started:.0f} s")
    valid = (pixels["valid"], valid_labels)
    scores: dict[tuple, list[dict]] = {}
    for budget in budgets:
        for draw in range(1, draw_count(table) + 1):
            rows, labels = labelled(table, budget, draw)
            said = None
            if "propagation" in recipes:
                said = graph_labels(
                    neighbours, graph_weights, rows, labels, classes, settings.method, settings.neighbours
                )
            problem = dict(
                pool=pixels["train"],
                rows=rows,
                labels=labels,
                valid=valid,
                classes=classes,
                seed=draw_seed(params.seed, draw),
                layers=layers,
                weights=stack,
                graph=said,
            )
            for recipe in (RECIPES[name] for name in recipes):
                for start in starts:
                    make_deterministic(draw_seed(params.seed, draw))
                    began = time.perf_counter()
                    scores.setdefault((recipe.__name__, start, budget), []).append(recipe(params, problem, start))
                    print(
                        f"{recipe.__name__}, {start}, {budget} labels, draw {draw}: "
                        f"{scores[(recipe.__name__, start, budget)][-1]} ({time.perf_counter() - began:.1f} s)",
                        flush=True,
                    )
    for (recipe, start, budget), per_draw in scores.items():
        measured = list(per_draw[0])
        full = [draw[measured[-2 if recipe == "propagation" else -1]] for draw in per_draw]
        for length in measured:
            values = [draw[length] for draw in per_draw]
            mean, low, high = (100 * value for value in paired_interval(values, full))
            print(
                f"{recipe}, {start} start, {budget} labels, {length}: {np.mean(values):.4f}, "
                f"{mean:+.2f} points against the full length ({low:+.2f} to {high:+.2f}), {verdict(low, high)}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="100,1000", help="comma-separated label budgets")
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, of {', '.join(RECIPES)}")
    parser.add_argument("--starts", default="pretrained,random", help="pretrained, random or both")
    arguments = parser.parse_args()
    recipes, starts = arguments.recipes.split(","), arguments.starts.split(",")
    if set(recipes) - set(RECIPES) or set(starts) - {"pretrained", "random"}:
        parser.error(f"recipes must be among {list(RECIPES)}, starts among pretrained, random")
    main([int(budget) for budget in arguments.budgets.split(",")], recipes, starts)

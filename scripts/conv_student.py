#!/usr/bin/env python3
"""Would a convolutional student bring the best recipe to the published few-label results? Judged on the validation
split only.

The propagation recipe's student is the encoder + head, a dense network, trained for a few epochs on every training
image's propagated label (true where known), its answer averaged with the graph's vote. The published results that
the report's bars quote (83.2 % at 160 labels, 88.0 % at 640) come from augmented CNNs. Here a small CNN (two 3x3
convolutions of ``--filters`` and twice as many, each max-pooled, a dense layer of 128 with dropout) learns the same
propagated labels, with the recipe's training set, mirroring, shifts, batch size and learning rate, for each of
``--epochs``. Each answer is scored alone and averaged with the vote (classify.propagation.vote_weight), against the
recipe's own answer (its dense student from the pretrained stack, with the vote) on the same draws, paired, on the
5,000 validation images (the test labels are not read). Run from the repository root after `dvc repro`:

    python scripts/conv_student.py [--budgets 100,1000] [--epochs 3,8] [--draws 5]
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
from pipeline.fewlabel.common import predict  # noqa: E402
from pipeline.fewlabel.propagation.spread import graph_labels  # noqa: E402
from pipeline.fewlabel.propagation.train import fit_student  # noqa: E402
from pipeline.runtime import paths, shards  # noqa: E402
from pipeline.stats import accuracy, paired_interval, verdict  # noqa: E402

RECIPE = "the recipe's answer (dense student and the vote)"


def conv_student(side: int, class_count: int, filters: int):
    """A small CNN on flat square images: the kind of student the published results train."""
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((side * side,)),
            layers.Reshape((side, side, 1)),
            layers.Conv2D(filters, 3, padding="same", activation="relu"),
            layers.MaxPool2D(),
            layers.Conv2D(2 * filters, 3, padding="same", activation="relu"),
            layers.MaxPool2D(),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(128, activation="relu"),
            layers.Dense(class_count, activation="softmax"),
        ]
    )


def main(budgets: list[int], epochs: list[int], draws: int, filters: int) -> None:
    from pipeline.models.autoencoders import classifier
    from pipeline.training import make_deterministic

    params = config.load()
    settings = params.classify.propagation
    table, valid_labels, classes = validation_split()
    pixels = shards.read_arrays(paths.features(PIXELS), ["train", "valid"])
    side = int(round(pixels["train"].shape[1] ** 0.5))
    layers, stack = pretrained_stack(params)
    neighbours, graph_weights = patch_graph(pixels, params)
    weight = settings.vote_weight

    for budget in budgets:
        scores: dict[str, list[float]] = {}
        for draw in range(1, min(draws, draw_count(table)) + 1):
            rows, labels = labelled(table, budget, draw)
            said = graph_labels(neighbours, graph_weights, rows, labels, classes, settings.method, settings.neighbours)
            targets, seed = said.targets(rows, labels), draw_seed(params.seed, draw)
            make_deterministic(seed)
            dense = classifier(layers, side * side, classes, encoder_weights=stack, trainable_encoder=True)
            fit_student(dense, pixels["train"], targets, rows, labels, settings)
            answers = {
                "the graph's vote alone": said.test_vote,
                RECIPE: (1 - weight) * predict(dense, pixels["valid"]) + weight * said.test_vote,
            }
            for count in epochs:
                started = time.perf_counter()
                make_deterministic(seed)
                student = conv_student(side, classes, filters)
                length = settings.model_copy(update={"epochs": count})
                fit_student(student, pixels["train"], targets, rows, labels, length)
                conv = predict(student, pixels["valid"])
                answers[f"CNN, {count} epochs, alone"] = conv
                answers[f"CNN, {count} epochs, and the vote"] = (1 - weight) * conv + weight * said.test_vote
                print(
                    f"{budget} labels, draw {draw}: CNN of {count} epochs in {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
            for label, answer in answers.items():
                scores.setdefault(label, []).append(accuracy(answer, valid_labels))
        for label, values in scores.items():
            mean, low, high = (100 * value for value in paired_interval(values, scores[RECIPE]))
            against = f"; {mean:+.1f} ({low:+.1f} to {high:+.1f}, {verdict(low, high)})" if label != RECIPE else ""
            print(f"{budget} labels, {label}: {np.mean(values):.4f}{against}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="100,1000", help="comma-separated label budgets")
    parser.add_argument("--epochs", default="3,8", help="comma-separated lengths of the CNN's training")
    parser.add_argument("--draws", type=int, default=5, help="the first this many labelled draws")
    parser.add_argument("--filters", type=int, default=32, help="of the first convolution (the second has twice)")
    arguments = parser.parse_args()
    main(
        [int(budget) for budget in arguments.budgets.split(",")],
        [int(count) for count in arguments.epochs.split(",")],
        arguments.draws,
        arguments.filters,
    )

#!/usr/bin/env python3
"""Does the greedy layer-wise pretraining matter once a classifier learns from the graph's labels? Judged on the
validation split only.

Label propagation gives every training image a label (the `labels` stage's, from the k-means patch graph). The
recipe's student fine-tunes the whole encoder on them, and its random start scores as its pretrained one. Here the
encoder is frozen instead, so that only its codings can make a difference: two read-outs learn every training
image's propagated label, true where known, each on standardised columns: a logistic regression (the probes' C and
max_iter, params.yaml's baseline block) and the `frozen_propagation` recipe's (a network of one hidden layer and the
nearest neighbours, averaged; its params.yaml block). They read

- the pixels;
- the stack's top codings, pretrained, and the same layer of a random encoder of the same shape (the twin);
- with ``--bottleneck``, the codings of one more greedy layer of that many units, trained alone on the stack's
  top codings (no noise, the rest as the top layer), and its random twin.

Each read-out is scored alone and averaged with the graph's vote as the propagation recipe's answer is
(classify.propagation.vote_weight), on the 5,000 validation images (the test labels are not read), 5 draws, paired.
Run from the repository root after `dvc repro`:

    python scripts/graph_students.py [--budgets 100,1000] [--bottleneck 75,30]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline.runtime import environment  # noqa: E402

environment.apply()  # the project's variables, and TensorFlow without its start-up chatter

import numpy as np  # noqa: E402
from codings_graph import encoder_codings, patch_graph, pretrained_stack  # noqa: E402
from pretraining_variants import validation_split  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.config import PIXELS, LayerParams  # noqa: E402
from pipeline.data.split import SUBSETS, draw_count, draw_seed, labelled  # noqa: E402
from pipeline.fewlabel.frozen_propagation.train import read  # noqa: E402
from pipeline.fewlabel.probe import probe_models  # noqa: E402
from pipeline.fewlabel.propagation.spread import graph_labels  # noqa: E402
from pipeline.greedy import pretrain_layer  # noqa: E402
from pipeline.runtime import paths, shards  # noqa: E402
from pipeline.stats import accuracy, paired_interval, verdict  # noqa: E402

PRETRAINED, RANDOM = "pretrained", "random encoder"
READ_OUTS = ("logistic regression", "the recipe's read-out")


def read_out(name: str, params, seed: int, train, targets, valid):
    """The validation images' class probabilities by the read-out ``name`` (of READ_OUTS)."""
    if name == READ_OUTS[1]:
        return read(params.classify.frozen_propagation, seed, train, targets, valid)[0]
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    logistic = make_pipeline(StandardScaler(), probe_models(params.baseline, seed)["logistic"])
    return logistic.fit(train, targets).predict_proba(valid)


def frozen_features(params, bottlenecks: list[int]) -> dict[str, dict[str, np.ndarray]]:
    """The training and validation images as each frozen classifier reads them, by label."""
    from pipeline.training import make_deterministic

    pixels = shards.read_arrays(paths.features(PIXELS), list(SUBSETS))
    layers, stack = pretrained_stack(params)
    top = list(layers)[-1]
    pretrained = encoder_codings(layers, stack, pixels, params.seed)[top]
    features = {"pixels": pixels, f"{top}, {PRETRAINED}": pretrained}
    features[f"{top}, {RANDOM}"] = encoder_codings(layers, None, pixels, params.seed)[top]
    for units in bottlenecks:
        extra = LayerParams(**{**layers[top].model_dump(), "input": top, "units": units, "noise": "none"})
        make_deterministic(params.seed)
        trained = pretrain_layer("extra", extra, pretrained, params.seed)
        features[f"{units} units above {top}, {PRETRAINED}"] = {
            subset: np.asarray(trained.codings[subset]) for subset in SUBSETS
        }
        features[f"{units} units above {top}, {RANDOM}"] = encoder_codings(
            {**layers, "extra": extra}, None, pixels, params.seed
        )["extra"]
    return {label: {subset: coded[subset] for subset in ("train", "valid")} for label, coded in features.items()}


def main(budgets: list[int], bottlenecks: list[int]) -> None:
    params = config.load()
    settings = params.classify.propagation
    table, valid_labels, classes = validation_split()
    features = frozen_features(params, bottlenecks)
    started = time.perf_counter()
    neighbours, graph_weights = patch_graph(features["pixels"], params)
    print(f"patch graph: {time.perf_counter() - started:.0f} s", flush=True)

    weight = settings.vote_weight
    for budget in budgets:
        scores = {(label, name, voted): [] for label in features for name in READ_OUTS for voted in (False, True)}
        votes, started = [], time.perf_counter()
        for draw in range(1, draw_count(table) + 1):
            rows, labels = labelled(table, budget, draw)
            said = graph_labels(neighbours, graph_weights, rows, labels, classes, settings.method, settings.neighbours)
            votes.append(accuracy(said.test_vote, valid_labels))
            targets, seed = said.targets(rows, labels), draw_seed(params.seed, draw)
            for (label, feature), name in itertools.product(features.items(), READ_OUTS):
                answers = read_out(name, params, seed, feature["train"], targets, feature["valid"])
                scores[label, name, False].append(accuracy(answers, valid_labels))
                mixed = (1 - weight) * answers + weight * said.test_vote
                scores[label, name, True].append(accuracy(mixed, valid_labels))
            print(f"{budget} labels, draw {draw}: {time.perf_counter() - started:.0f} s", flush=True)
        print(f"{budget} labels, the graph's vote alone: {np.mean(votes):.4f}", flush=True)
        for (label, name, voted), values in scores.items():
            against = []
            others = dict.fromkeys((label.replace(PRETRAINED, RANDOM), "pixels"))
            others.pop(label, None)
            for other in others:
                mean, low, high = (100 * value for value in paired_interval(values, scores[other, name, voted]))
                against.append(f"{mean:+.1f} ({low:+.1f} to {high:+.1f}, {verdict(low, high)}) against {other}")
            answer = f"{label} and the vote" if voted else label
            print(f"{budget} labels, {name} on {answer}: {np.mean(values):.4f}; " + "; ".join(against), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="100,1000", help="comma-separated label budgets")
    parser.add_argument("--bottleneck", default="", help="comma-separated units of one more greedy layer, each")
    arguments = parser.parse_args()
    main(
        [int(budget) for budget in arguments.budgets.split(",")],
        [int(units) for units in arguments.bottleneck.split(",") if units],
    )

#!/usr/bin/env python3
"""Does the greedy layer-wise pretraining give label propagation a better graph? Judged on the validation split only.

The propagation recipe's graph measures closeness on k-means patch features (the `graph` stage). Here the same
nearest-neighbour graph and Laplace or Poisson learning (classify.propagation's settings) run on other features of
the same images: the pixels, each pretrained layer's codings, the top codings of a random encoder of the same
shape (the random-start twin), the patch features themselves, and the patch features joined to the top codings of
either encoder (each half weighing alike). For each labelled draw, the labels spread over the graph of the
training images and the validation images take the vote of their nearest training images, exactly as the recipe's
vote does on the test images; its accuracy is scored on the 5,000 validation images (the test labels are not
read).

Prints each feature's mean vote accuracy and its paired differences, with the 95 % interval, to its twin from the
random encoder and to the patch features. Run from the repository root after `dvc repro`:

    python scripts/codings_graph.py [--budgets 100,1000]
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
from pretraining_variants import validation_split  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.config import PIXELS, LayerParams  # noqa: E402
from pipeline.data.split import draw_count, draw_seed, labelled  # noqa: E402
from pipeline.fewlabel.propagation.graph import Neighbours, build, connect, weights  # noqa: E402
from pipeline.fewlabel.propagation.patches import fit_patch_features  # noqa: E402
from pipeline.fewlabel.propagation.spread import graph_labels  # noqa: E402
from pipeline.runtime import io, paths, shards  # noqa: E402
from pipeline.stats import accuracy, paired_interval, verdict  # noqa: E402


def encoder_codings(layers: dict, stack: dict | None, images: dict[str, np.ndarray], seed: int) -> dict[str, dict]:
    """Each layer's codings of ``images`` (by subset) from the pretrained stack (``stack``'s weights) or, with
    ``stack`` None, from a random encoder of the same shape drawn with ``seed``."""
    import keras

    from pipeline.models.autoencoders import StackedAutoencoder
    from pipeline.training import make_deterministic

    make_deterministic(seed)
    stacked = StackedAutoencoder(layers, images["train"].shape[1])
    if stack is not None:
        stacked.load(stack)
    coded = {}
    for name in layers:
        encoder = keras.Model(stacked.encoder.inputs, stacked.autoencoder.encoder_layer(name).output)
        coded[name] = {subset: encoder.predict(part, batch_size=1024, verbose=0) for subset, part in images.items()}
    return coded


PATCHES = "patch features"  # the recipe's graph


def joined(patches: dict[str, np.ndarray], codings: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The patch features (whitened: each column of variance 1) and the codings side by side, the codings scaled
    so that both halves weigh alike in a distance: their total variance equal to the patch features'."""
    scale = np.sqrt(patches["train"].shape[1] / codings["train"].var(axis=0).sum())
    return {subset: np.hstack([patches[subset], scale * codings[subset]]) for subset in patches}


def pretrained_stack(params) -> tuple[dict[str, LayerParams], dict[str, dict[str, np.ndarray]]]:
    """The stack's layers, and their weights as the `stack` stage left them."""
    from pipeline.models.autoencoders import weight_names

    layers = {name: LayerParams(**shape) for name, shape in io.read_json(paths.ARCHITECTURE).items()}
    stack = {
        name: shards.read_arrays(paths.STACK_MODEL / name, weight_names(layer))
        for name, layer in params.pretrain.layers.items()
    }
    return layers, stack


def patch_features(pixels: dict[str, np.ndarray], params) -> dict[str, np.ndarray]:
    """The recipe's graph features of the training and validation images, learnt as the `graph` stage does."""
    side = int(round(pixels["train"].shape[1] ** 0.5))
    settings = params.classify.propagation.patches
    patches, featurise = fit_patch_features(pixels["train"], side, settings, draw_seed(params.seed, 0))
    return {"train": patches, "valid": featurise(pixels["valid"])}


def patch_graph(pixels: dict[str, np.ndarray], params) -> tuple[Neighbours, object]:
    """The recipe's graph of the training images, built as the `graph` stage builds it, with each validation image's
    nearest training images; and its edge weights."""
    settings = params.classify.propagation
    neighbours = build(pixels["train"], pixels["valid"], settings, draw_seed(params.seed, 0))
    return neighbours, weights(neighbours, settings.neighbours)


def main(budgets: list[int]) -> None:
    params = config.load()
    settings = params.classify.propagation
    table, valid_labels, classes = validation_split()
    pixels = shards.read_arrays(paths.features(PIXELS), ["train", "valid"])
    layers, stack = pretrained_stack(params)
    started = time.perf_counter()
    patches = patch_features(pixels, params)
    print(f"patch features: {time.perf_counter() - started:.0f} s", flush=True)
    pretrained = encoder_codings(layers, stack, pixels, params.seed)
    top = list(layers)[-1]
    tops = {"pretrained": pretrained[top], "random encoder": encoder_codings(layers, None, pixels, params.seed)[top]}
    features = {
        "pixels": pixels,
        **{f"{name} codings, pretrained": coded for name, coded in list(pretrained.items())[:-1]},
        **{f"{top} codings, {start}": coded for start, coded in tops.items()},
        PATCHES: patches,
        **{f"{PATCHES} and {top} codings, {start}": joined(patches, coded) for start, coded in tops.items()},
    }
    graphs = {}
    for label, feature in features.items():
        started = time.perf_counter()
        graphs[label] = connect(feature["train"], feature["valid"], settings.neighbours)
        print(f"graph on {label}: {time.perf_counter() - started:.0f} s", flush=True)

    for budget in budgets:
        scores = {label: [] for label in graphs}
        for draw in range(1, draw_count(table) + 1):
            rows, labels = labelled(table, budget, draw)
            for label, neighbours in graphs.items():
                said = graph_labels(
                    neighbours,
                    weights(neighbours, settings.neighbours),
                    rows,
                    labels,
                    classes,
                    settings.method,
                    settings.neighbours,
                )
                scores[label].append(accuracy(said.test_vote, valid_labels))
        for label, values in scores.items():
            against = []
            for other in dict.fromkeys((label.replace("pretrained", "random encoder"), PATCHES)):
                if other != label and other in scores:
                    mean, low, high = (100 * value for value in paired_interval(values, scores[other]))
                    against.append(f"{mean:+.1f} ({low:+.1f} to {high:+.1f}, {verdict(low, high)}) against {other}")
            print(f"{budget} labels, {label}: {np.mean(values):.4f}; " + "; ".join(against), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="100,1000", help="comma-separated label budgets")
    main([int(budget) for budget in parser.parse_args().budgets.split(",")])

#!/usr/bin/env python3
"""Which layer-wise pretraining gives codings that pay with few labels, judged on the validation split only.

Pretrains the stack of params.yaml once per variant (each a change to every layer's settings), then runs the
probes (logistic regression, k nearest neighbours: pipeline/fewlabel/probe.py) on each layer's codings and on the
pixels, from the same labelled draws as the pipeline, scoring the 5,000 validation images: the test labels are not
read. Prints each probe's mean and its paired difference to the same probe on the pixels, with the 95 % interval.
Run from the repository root after `dvc repro` (it reads data/split.csv and data/features/pixels):

    python scripts/pretraining_variants.py '{"none": {}, "dropout": {"noise": "dropout", "noise_level": 0.2}}'

A variant's change applies to every layer or, keyed by layer names, to each its own; a new name adds a layer on top:

    python scripts/pretraining_variants.py '{"conv": {"l1": {"kind": "conv", "units": 16},
      "l2": {"kind": "conv", "units": 32}, "l3": {"input": "l2", "units": 150}}}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.config import PretrainParams  # noqa: E402
from pipeline.data.split import SUBSETS, labels_of  # noqa: E402
from pipeline.fewlabel.probe import PROBE_METRICS, probe_draws  # noqa: E402
from pipeline.greedy import pretrain_layer  # noqa: E402
from pipeline.runtime import io, paths, shards  # noqa: E402
from pipeline.stats import paired_interval, per_draw, verdict  # noqa: E402
from pipeline.training import make_deterministic  # noqa: E402


def validation_as_test(table: pd.DataFrame) -> pd.DataFrame:
    """The split table with the validation images in the test images' place (and the test images left out)."""
    table = table[table["subset"] != "test"].copy()
    table.loc[table["subset"] == "valid", "subset"] = "test"
    return table


def validation_split() -> tuple[pd.DataFrame, np.ndarray, int]:
    """What the validation-split scripts score against: the split table with the validation images as its test
    images (:func:`validation_as_test`), their labels and the number of classes."""
    table = validation_as_test(pd.read_csv(paths.SPLIT_TABLE))
    return table, labels_of(table, "test"), len(io.read_json(paths.CARD)["class_names"])


def variant(pretrain: PretrainParams, change: dict) -> PretrainParams:
    """The stack with a variant's settings, validated as params.yaml would be."""
    per_layer = change if change and all(isinstance(value, dict) for value in change.values()) else None
    per_layer = per_layer or dict.fromkeys(pretrain.layers, change)
    layers = {name: layer.model_dump() for name, layer in pretrain.layers.items()}
    for name, settings in per_layer.items():
        layers[name] = {**layers.get(name, {}), **settings}
    return PretrainParams.model_validate({"layers": layers})


def main(variants: dict[str, dict], budgets: list[int]) -> None:
    params = config.load()
    table = validation_as_test(pd.read_csv(paths.SPLIT_TABLE))
    pixels = shards.read_arrays(paths.features("pixels"), list(SUBSETS))

    def probe(features: dict[str, np.ndarray]) -> dict:
        scored = {"train": features["train"], "test": features["valid"]}
        return probe_draws(scored, table, budgets, params.baseline, params.seed)

    on_pixels = probe(pixels)
    for label, change in variants.items():
        started, features = time.perf_counter(), pixels
        pretrain = variant(params.pretrain, change)
        for name, layer in pretrain.layers.items():
            make_deterministic(params.seed)
            result = pretrain_layer(name, layer, features, params.seed, input_channels=pretrain.input_channels(name))
            features = {subset: np.asarray(result.codings[subset]) for subset in SUBSETS}
            on_layer = probe(features)
            for budget in budgets:
                for metric in PROBE_METRICS.values():
                    ours, theirs = (per_draw(scores[str(budget)], metric) for scores in (on_layer, on_pixels))
                    mean, low, high = (100 * value for value in paired_interval(ours, theirs))
                    print(
                        f"{label} {name}, {budget} labels, {metric}: {ours.mean():.4f} against {theirs.mean():.4f} "
                        f"on the pixels: {mean:+.1f} points ({low:+.1f} to {high:+.1f}), {verdict(low, high)}",
                        flush=True,
                    )
        print(f"{label}: {time.perf_counter() - started:.0f} s", flush=True)


def variants_argument(text: str) -> dict[str, dict]:
    """The command line's variants: a JSON object of variant names to changes."""
    try:
        variants = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    if not isinstance(variants, dict) or not all(isinstance(change, dict) for change in variants.values()):
        raise argparse.ArgumentTypeError('must be a JSON object of variant names to changes, {"name": {...}}')
    return variants


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", type=variants_argument, help='JSON: {"name": {setting: value, ...}, ...}')
    parser.add_argument("budgets", nargs="?", default="100,1000", help="comma-separated label budgets")
    arguments = parser.parse_args()
    main(arguments.variants, [int(budget) for budget in arguments.budgets.split(",")])

"""Stage `chapter@<technique>` (and `features`): one technique of the autoencoders chapter on the images.

Writes the arrays its figure is drawn from, its metrics and its learning curves; the report draws it.
"""

import importlib

import pandas as pd

from pipeline import config, io, paths, tracking
from pipeline.chapter import TECHNIQUES
from pipeline.config import PIXELS
from pipeline.data.split import SUBSETS, labelled, labels_of
from pipeline.errors import ConfigError
from pipeline.models.autoencoders import weight_names
from pipeline.report import chapter as chapter_figures
from pipeline.training import make_deterministic
from stages._common import run, stage_name


def technique_function(name: str):
    """``pipeline/chapter/<name>.py``'s run: each technique is one module, which its stage alone depends on."""
    return importlib.import_module(f"pipeline.chapter.{name}").run


def features_result(params):
    """Feature visualisation reads the main pipeline's greedy layers, their cached codings and the labels."""
    from pipeline.chapter import features

    layers = params.pretrain.layers
    weights = {name: io.read_arrays(paths.pretrain_model(name), weight_names(layer)) for name, layer in layers.items()}
    codings = {name: io.read_arrays(paths.features(name), ["train", "test"]) for name in [PIXELS, *layers]}
    table = pd.read_csv(paths.SPLIT_TABLE)
    budget = params.split.budgets[-1]
    inputs = [paths.SPLIT_TABLE, *(paths.pretrain_model(name) for name in layers),
              *(paths.features(name) for name in [PIXELS, *layers])]
    result = features.run(params.chapter.features, layers, weights, codings, labelled(table, budget),
                          labels_of(table, "test"), budget, params.seed)
    return result, inputs


def main(argv: list[str]) -> None:
    params = config.load()
    if len(argv) != 1 or argv[0] not in TECHNIQUES:
        raise ConfigError(f"chapter: got {argv}, must be one technique of {list(TECHNIQUES)}")
    name = argv[0]
    settings = {"seed": params.seed, "technique": name, **getattr(params.chapter, name).model_dump()}
    make_deterministic(params.seed)
    if name == "features":
        result, inputs = features_result(params)
    else:
        inputs = [paths.features(PIXELS)]
        pixels = io.read_arrays(inputs[0], list(SUBSETS))
        result = technique_function(name)(getattr(params.chapter, name), pixels, params.seed)

    history = result.history_table()
    io.write_arrays(paths.chapter_arrays(name), result.arrays)
    if result.histories:
        io.write_csv(paths.chapter_history(name), history)
    io.write_json(paths.chapter_metrics(name), result.metrics)
    with tracking.stage_run(stage_name(f"chapter@{name}"), params.mlflow.experiment, settings, inputs=inputs) as logged:
        for model, curve in result.histories.items():
            logged.log_history(curve, prefix=f"{model.replace(' ', '_')}_")
        logged.log_metrics({**result.metrics, **result.timings})
        logged.log_figure(chapter_figures.FIGURES[name](result.arrays, result.metrics, history), f"{name}.png")


if __name__ == "__main__":
    run(main)

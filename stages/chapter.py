"""Stage `chapter@<technique>` (and `features`): one technique of the autoencoders chapter.

Runs ``pipeline/chapter/<technique>/train.py`` and writes the arrays its figure is drawn from, its metrics and
its learning curves; the report draws it.
"""

from pipeline import config
from pipeline.chapter import technique
from pipeline.config import PIXELS
from pipeline.errors import ConfigError
from pipeline.models.autoencoders import weight_names
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.training import is_chief, make_deterministic, stage_strategy


def features_result(params, run_features):
    """Feature visualisation reads the main pipeline's greedy layers and their cached codings."""
    layers = params.pretrain.layers
    weights = {
        name: shards.read_arrays(paths.pretrain_model(name), weight_names(layer)) for name, layer in layers.items()
    }
    codings = {name: shards.read_arrays(paths.features(name), ["train", "test"]) for name in [PIXELS, *layers]}
    inputs = [
        *(paths.pretrain_model(name) for name in layers),
        *(paths.features(name) for name in [PIXELS, *layers]),
    ]
    result = run_features(
        params.features,
        layers=layers,
        weights=weights,
        features=codings,
        seed=params.seed,
    )
    return result, inputs


def pixels_for(chosen, params) -> dict:
    """The images: the training ones streamed where ``train.input`` says so and the technique can take a stream."""
    folder = paths.features(PIXELS)
    if chosen.streams:
        train = shards.read_subsets(folder, ["train"], **params.train.reading())
    else:
        if params.train.input == "stream":
            print(f"{chosen.name}: loads its training images whole (train.input stream is not used)", flush=True)
        train = shards.read_arrays(folder, ["train"])
    return {**train, **shards.read_arrays(folder, ["valid", "test"])}


def main(argv: list[str]) -> None:
    params = config.load()
    if len(argv) != 1:
        raise ConfigError(f"chapter: got {argv}, must be one technique's name")
    chosen = technique(argv[0])
    settings = chosen.params_of(params)
    strategy = stage_strategy(params.train, chosen.name, chosen.distributed)
    if strategy is None:
        return  # the chief runs this technique alone
    make_deterministic(params.seed)
    with strategy.scope():
        if chosen.reads_layers:
            result, inputs = features_result(params, chosen.train().run)
        else:
            inputs = [paths.features(PIXELS)]
            result = chosen.train().run(settings, pixels_for(chosen, params), params.seed)
    if not is_chief(strategy):
        return  # a worker of a multi-worker cluster: the chief writes the outputs

    io.write_arrays(paths.chapter_arrays(chosen.name), result.arrays)
    if result.histories:
        io.write_csv(paths.chapter_history(chosen.name), result.history_table())
    io.write_json(paths.chapter_metrics(chosen.name), result.metrics)
    with tracking.stage_run(
        stage_name(chosen.stage),
        params.mlflow.experiment,
        {"seed": params.seed, "technique": chosen.name, **settings.model_dump()},
        inputs=inputs,
    ) as logged:
        for model, curve in result.histories.items():
            logged.log_history(curve, prefix=f"{model.replace(' ', '_')}_")
        logged.log_metrics({**result.metrics, **result.timings})


if __name__ == "__main__":
    run(main)

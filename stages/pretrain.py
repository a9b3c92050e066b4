"""Stage `pretrain@<layer>`: train one shallow autoencoder on the cached codings of the layer below.

Writes the layer's weights and the codings of its hidden layer for every subset: the frozen-layer
cache that the next layer trains on (as shards where its input was sharded).
"""

import tempfile
from pathlib import Path

from pipeline import config
from pipeline.data.split import SUBSETS
from pipeline.errors import ConfigError
from pipeline.greedy import pretrain_layer
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.training import Checkpoint, fingerprint, is_chief, make_deterministic, stage_strategy


def main(argv: list[str]) -> None:
    params = config.load()
    if len(argv) != 1 or argv[0] not in params.pretrain.layers:
        raise ConfigError(f"pretrain: got layer {argv}, must be one of {params.layer_names} (pretrain.layers)")
    name = argv[0]
    layer = params.pretrain.layers[name]
    inputs = [paths.features(layer.input)]
    features = shards.read_subsets(inputs[0], SUBSETS, **params.train.reading())
    strategy = stage_strategy(params.train, f"pretrain@{name}")
    make_deterministic(params.seed)
    settings = {"seed": params.seed, "layer": name, **layer.model_dump()}
    checkpoint = Checkpoint(
        paths.checkpoint(f"pretrain@{name}"), fingerprint({**settings, "train": params.train.model_dump()}, inputs)
    )
    with strategy.scope():
        result = pretrain_layer(
            name, layer, features, params.seed, checkpoint, input_channels=params.pretrain.input_channels(name)
        )
        if not is_chief(strategy):
            # A worker of a multi-worker cluster computes the codings with the chief (a prediction is collective
            # there), writes them to a folder of its own and drops them: the chief writes the outputs.
            with tempfile.TemporaryDirectory() as scratch:
                shards.write_subsets(Path(scratch) / name, result.codings)
            return

    io.write_arrays(paths.pretrain_model(name), result.weights)
    shards.write_subsets(paths.features(name), result.codings)
    io.write_csv(paths.pretrain_history(name), result.history)
    io.write_json(paths.pretrain_metrics(name), result.metrics)
    checkpoint.discard()
    with tracking.stage_run(
        stage_name(f"pretrain@{name}"), params.mlflow.experiment, settings, inputs=inputs
    ) as logged:
        logged.log_history(result.history)
        logged.log_metrics(result.metrics)


if __name__ == "__main__":
    run(main)

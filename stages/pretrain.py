"""Stage `pretrain@<layer>`: train one shallow autoencoder on the cached codings of the layer below.

Writes the layer's weights and the codings of its hidden layer for every subset: the frozen-layer
cache that the next layer trains on.
"""

from pipeline import config, io, paths, tracking
from pipeline.data.split import SUBSETS
from pipeline.errors import ConfigError
from pipeline.greedy import pretrain_layer
from pipeline.training import Checkpoint, fingerprint, make_deterministic
from stages._common import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    if len(argv) != 1 or argv[0] not in params.pretrain.layers:
        raise ConfigError(f"pretrain: got layer {argv}, must be one of {params.layer_names} (pretrain.layers)")
    name = argv[0]
    layer = params.pretrain.layers[name]
    inputs = [paths.features(layer.input)]
    features = io.read_arrays(inputs[0], list(SUBSETS))
    make_deterministic(params.seed)
    settings = {"seed": params.seed, "layer": name, **layer.model_dump()}
    checkpoint = Checkpoint(paths.checkpoint(f"pretrain@{name}"), fingerprint(settings, inputs))
    result = pretrain_layer(name, layer, features, params.seed, checkpoint)

    io.write_arrays(paths.pretrain_model(name), result.weights)
    io.write_arrays(paths.features(name), result.codings)
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

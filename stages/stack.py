"""Stage `stack`: encoders l1..lN then decoders lN..l1, test MSE before and after fine-tuning."""

from pipeline import config
from pipeline.config import PIXELS
from pipeline.data.split import SUBSETS
from pipeline.greedy import stack_layers
from pipeline.models.autoencoders import weight_names
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name
from pipeline.training import Checkpoint, fingerprint, is_chief, make_deterministic, stage_strategy


def main(argv: list[str]) -> None:
    params = config.load()
    layers = params.pretrain.layers
    weights = {
        name: shards.read_arrays(paths.pretrain_model(name), weight_names(layer)) for name, layer in layers.items()
    }
    pixels = shards.read_subsets(paths.features(PIXELS), SUBSETS, **params.train.reading())
    strategy = stage_strategy(params.train, "stack")
    make_deterministic(params.seed)
    settings = {"seed": params.seed, **params.stack.model_dump(), "layers": ",".join(layers)}
    inputs = [*(paths.pretrain_model(name) for name in layers), paths.features(PIXELS)]
    checkpoint = Checkpoint(
        paths.checkpoint("stack"),
        fingerprint({**settings, "pretrain": params.pretrain.model_dump(), "train": params.train.model_dump()}, inputs),
    )
    with strategy.scope():
        result = stack_layers(layers, weights, pixels, params.stack, seed=params.seed, checkpoint=checkpoint)
        if not is_chief(strategy):
            return  # a worker of a multi-worker cluster: the chief writes the outputs

    io.write_arrays(paths.STACK_MODEL, result.weights)
    io.write_arrays(paths.RECONSTRUCTIONS, result.reconstructions)
    io.write_csv(paths.STACK_HISTORY, result.history)
    io.write_json(paths.STACK_METRICS, result.metrics)
    checkpoint.discard()
    with tracking.stage_run(stage_name("stack"), params.mlflow.experiment, settings, inputs=inputs) as logged:
        logged.log_history(result.history)
        logged.log_metrics(result.metrics)


if __name__ == "__main__":
    run(main)

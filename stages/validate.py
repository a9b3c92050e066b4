"""Stage `validate`: check all of params.yaml before any other stage touches an output.

Its outputs change only when what they say does, so most params changes never make them look new to the stages
below: the JSON schema of params.yaml depends on the code only, and the encoder's architecture (each layer without
how it is pretrained) is what the random-start stages build on. Its MLflow run records the whole validated
parameter set.
"""

from pipeline import config
from pipeline.runtime import io, paths, tracking
from pipeline.runtime.stage import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    io.write_json(paths.SCHEMA, config.json_schema())
    io.write_json(paths.ARCHITECTURE, params.pretrain.architecture(), sort_keys=False)  # layers in order
    with tracking.stage_run(stage_name("validate"), params.mlflow.experiment, params.model_dump()):
        pass


if __name__ == "__main__":
    run(main)

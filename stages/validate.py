"""Stage `validate`: check all of params.yaml before any other stage touches an output.

Its output, the JSON schema of params.yaml, depends on the code only, so a params change never
makes it look new to the stages below. Its MLflow run records the whole validated parameter set.
"""

from pipeline import config, io, paths, tracking
from stages._common import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    io.write_json(paths.SCHEMA, config.json_schema())
    with tracking.stage_run(stage_name("validate"), params.mlflow.experiment, params.model_dump()):
        pass


if __name__ == "__main__":
    run(main)

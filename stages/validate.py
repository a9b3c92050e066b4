"""Stage `validate`: check all of params.yaml before any other stage touches an output.

Its output, the JSON schema of params.yaml, depends on the code only, so a params change never
makes it look new to the stages below.
"""

from pipeline import config, io, paths
from stages._common import run


def main(argv: list[str]) -> None:
    config.load()
    io.write_json(paths.SCHEMA, config.json_schema())


if __name__ == "__main__":
    run(main)

"""Commands around the pipeline that are not DVC stages: `python -m pipeline check | relog | compare | publish`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.errors import UserError
from pipeline.runtime import tracking


def check(arguments: argparse.Namespace) -> int:
    """params.yaml against the schema before DVC reads it: DVC expands `foreach` and `matrix` over params values
    while it parses dvc.yaml, so a value of the wrong type there stops DVC before the validate stage can run."""
    from pipeline import config

    params = config.load(arguments.params)
    print(
        f"{arguments.params}: valid ({len(params.pretrain.layers)} layers, {len(params.split.budgets)} budgets, "
        f"{len(params.classify.recipes)} recipes)"
    )
    return 0


def relog(arguments: argparse.Namespace) -> int:
    waiting = len(tracking.pending_runs())
    sent, failures = tracking.relog(arguments.tracking_uri)
    uri = arguments.tracking_uri or tracking.tracking_uri()
    print(f"sent {sent} of {waiting} waiting runs to {uri}")
    for failure in failures:
        print(f"still waiting: {failure}", file=sys.stderr)
    return 1 if failures else 0


def compare(arguments: argparse.Namespace) -> int:
    from pipeline.compare import compare as build
    from pipeline.compare import write

    comparison = build(arguments.revisions)
    written = write(comparison, arguments.output)
    print("wrote " + ", ".join(str(path) for path in written))
    for missing in comparison.missing:
        print(f"compare: {missing}", file=sys.stderr)
    return 0


def publish(arguments: argparse.Namespace) -> int:
    from pipeline.publish import publish as build

    pages, left_out = build(arguments.output)
    print(
        f"published {', '.join(pages)} in {arguments.output}/ "
        f"(open {arguments.output / 'index.html'}: it needs no server and no network)"
    )
    for note in left_out:
        print(f"publish: {note}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("check", help="check params.yaml against the schema (`make run` does, first)")
    validate.add_argument("params", nargs="?", type=Path, default=Path("params.yaml"))
    validate.set_defaults(handler=check)
    resend = commands.add_parser("relog", help="send the runs that waited in .mlflow-pending/ to MLflow")
    resend.add_argument(
        "--tracking-uri", help="where to send them (default: MLFLOW_TRACKING_URI or the repository's mlflow.db)"
    )
    resend.set_defaults(handler=relog)
    side_by_side = commands.add_parser(
        "compare", help="params, metrics and figures of git revisions or DVC experiments, side by side"
    )
    side_by_side.add_argument(
        "revisions",
        nargs="+",
        metavar="REV_OR_EXP",
        help="git revisions (HEAD, main, a commit), DVC experiment names, or 'workspace'",
    )
    side_by_side.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("reports/compare"),
        help="folder for index.html and compare.md (default: reports/compare)",
    )
    side_by_side.set_defaults(handler=compare)
    site = commands.add_parser(
        "publish", help="a static site that works offline: the report, the comparison pages and DVC's plots"
    )
    site.add_argument("-o", "--output", type=Path, default=Path("public"), help="the folder to write (default: public)")
    site.set_defaults(handler=publish)
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())

"""Commands around the pipeline that are not DVC stages: `python -m pipeline relog`."""

from __future__ import annotations

import argparse
import sys

from pipeline import tracking


def relog(arguments: argparse.Namespace) -> int:
    waiting = len(tracking.pending_runs())
    sent, failures = tracking.relog(arguments.tracking_uri)
    uri = arguments.tracking_uri or tracking.tracking_uri()
    print(f"sent {sent} of {waiting} waiting runs to {uri}")
    for failure in failures:
        print(f"still waiting: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    resend = commands.add_parser("relog", help="send the runs that waited in .mlflow-pending/ to MLflow")
    resend.add_argument("--tracking-uri", help="where to send them (default: MLFLOW_TRACKING_URI or the repository's mlflow.db)")
    resend.set_defaults(handler=relog)
    arguments = parser.parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())

"""What every stage script shares: one-line user errors with exit code 2, its stage name, its MLflow run's start."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pipeline.errors import UserError
from pipeline.runtime import tracking


def stage_name(default: str) -> str:
    """DVC's own address for the stage when DVC runs it (e.g. ``pretrain@l1``)."""
    return os.environ.get("DVC_STAGE", default)


def run(main: Callable[[list[str]], None]) -> None:
    tracking.time_runs_from_process_start()
    try:
        main(sys.argv[1:])
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)

"""What every stage script shares: one-line user errors with exit code 2, and its stage name."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

from pipeline.errors import UserError  # noqa: E402


def stage_name(default: str) -> str:
    """DVC's own address for the stage when DVC runs it (e.g. ``pretrain@l1``)."""
    return os.environ.get("DVC_STAGE", default)


def run(main: Callable[[list[str]], None]) -> None:
    try:
        main(sys.argv[1:])
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)

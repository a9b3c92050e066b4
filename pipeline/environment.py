"""The project's environment variables, kept in environment.env at the repository root (KEY=value lines).

Every stage (stages/__init__.py), MLflow tracking (before MLflow is imported) and the tests set them where they are
not set already; the Makefile exports them. Standard library only: a stage applies them before anything else.
"""

import os
from pathlib import Path

FILE = Path(__file__).resolve().parents[1] / "environment.env"


def variables() -> dict[str, str]:
    lines = FILE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def apply() -> None:
    for name, value in variables().items():
        os.environ.setdefault(name, value)

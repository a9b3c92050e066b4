"""The DVC stages, one module each (``python3 -m stages.<name>``).

Every stage first sets the project's environment variables (environment.env) where they are not set already.
DVC runs a stage's command with whichever ``python3`` comes first on PATH. When that interpreter lacks the
pinned packages (``.venv/bin/dvc repro`` from a shell where .venv is not activated), the stage runs again
under the project's .venv, or stops with one line saying how to make one.
"""

import os
import sys
from importlib.util import find_spec
from pathlib import Path

from pipeline.runtime import environment  # standard library only

PINNED = ("numpy", "pandas", "pydantic", "yaml", "mlflow")  # what every stage imports before its own work
VENV_PYTHON = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"


def _in_pinned_environment() -> None:
    missing = [name for name in PINNED if find_spec(name) is None]
    if not missing:
        return
    if VENV_PYTHON.is_file() and Path(sys.prefix).resolve() != VENV_PYTHON.parents[1].resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.orig_argv[1:]])
    sys.exit(
        f"error: {sys.executable} has no {', '.join(missing)}: run `make setup` (creates .venv with the pinned "
        "packages), then `source .venv/bin/activate` and `dvc repro`, or `make run`"
    )


environment.apply()
_in_pinned_environment()

"""The environment every stage runs in: the project's variables, kept in environment.env at the repository root
(KEY=value lines), and TensorFlow without its start-up chatter.

Every stage (stages/__init__.py), MLflow tracking (before MLflow is imported) and the tests set the variables where
they are not set already; the Makefile exports them. Standard library only: a stage applies them before anything
else.

On import, TensorFlow's C++ side prints which CPU kernels it uses and that it found no GPU, before its logging reads
``TF_CPP_MIN_LOG_LEVEL``; its first device lookup adds "failed call to cuInit" on a machine without one: six lines
per training stage, none of them about the stage. While TensorFlow imports and looks up its devices, the process's
stderr (file descriptor 2, where C++ writes) goes to a temporary file; afterwards every line of it that is not one
of those messages is written to stderr as it was.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

FILE = Path(__file__).resolve().parents[2] / "environment.env"


def variables() -> dict[str, str]:
    lines = FILE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def apply() -> None:
    for name, value in variables().items():
        os.environ.setdefault(name, value)
    quiet_tensorflow()


CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard|cuda_platform|cuda_diagnostics|cuda_executor)\.cc:)"
)


@contextlib.contextmanager
def without_chatter() -> Iterator[None]:
    """Run the block with file descriptor 2 captured, then pass on every captured line but TensorFlow's chatter."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line for line in captured.read().decode(errors="replace").splitlines(True) if not CHATTER.match(line)
            ]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once (however it is first imported: by keras too) and imports it without chatter."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module) -> None:
            with without_chatter():
                load(module)
                module.config.list_physical_devices()  # the device lookup that prints the cuInit line
            logging.getLogger("tensorflow").addFilter(_not_retracing)

        spec.loader.exec_module = exec_module
        return spec


def _not_retracing(record: logging.LogRecord) -> bool:
    """Drops TensorFlow's "triggered tf.function retracing" warning: Keras's ``predict`` traces anew for each new
    input shape (every stage predicts several subsets and models), which costs milliseconds and asks nothing of
    the reader. TensorFlow's other warnings pass."""
    return "triggered tf.function retracing" not in record.getMessage()


def quiet_tensorflow() -> None:
    """From now on in this process, TensorFlow imports without its start-up chatter (a no-op once imported)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())

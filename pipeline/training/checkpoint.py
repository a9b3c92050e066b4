"""A long fit's state after each finished epoch, saved whole, so that a killed run resumes to the same bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.runtime import io


def fingerprint(settings: Mapping, inputs: Iterable[str | Path]) -> str:
    """What a checkpoint must match to be resumed: the settings, the input files' contents and the library versions."""
    import keras
    import tensorflow as tf

    return hashlib.sha256(
        json.dumps(
            {
                "settings": settings,
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "inputs": {Path(path).as_posix(): io.content_hash(path) for path in inputs},
            },
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()


@dataclass
class Checkpoint:
    """The state of a long fit after its last finished epoch: weights, optimizer, random-seed states, history.

    Saved whole (one folder, renamed into place) after every epoch, so a killed run resumes from the last
    finished epoch, and ends with the same bytes as a run that was never interrupted.
    """

    directory: Path
    fingerprint: str
    STATE = "state.json"

    def save(self, model, epoch: int, history: list[dict]) -> None:
        io.write_arrays(
            self.directory,
            {"model": _numbered(model.variables), "optimizer": _numbered(model.optimizer.variables)},
            json_files={self.STATE: {"fingerprint": self.fingerprint, "epoch": epoch, "history": history}},
        )

    def restore(self, model) -> tuple[int, list[dict]]:
        """Load the saved state into ``model`` (compiled, optimizer built); (0, []) when there is nothing to resume."""
        state_file = self.directory / self.STATE
        if not state_file.exists():
            return 0, []
        state = json.loads(state_file.read_text())
        if state.get("fingerprint") != self.fingerprint:
            print(f"{self.directory}: checkpoint of other settings or inputs, starting afresh", file=sys.stderr)
            return 0, []
        for group, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
            for index, variable in enumerate(variables):
                variable.assign(io.read_array(self.directory / group / f"{_variable_name(index)}.npy"))
        print(f"{self.directory}: resuming after epoch {state['epoch']}", file=sys.stderr)
        return state["epoch"], state["history"]

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _variable_name(index: int) -> str:
    return f"{index:03d}"


def _numbered(variables) -> dict:
    return {_variable_name(index): np.asarray(variable) for index, variable in enumerate(variables)}

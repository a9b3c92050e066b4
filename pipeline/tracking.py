"""MLflow, anchored at the repository root: one run per DVC stage, mirroring what DVC writes.

The store defaults to SQLite in the repository root (``$DVC_ROOT`` when DVC sets it, which
``dvc exp run --queue`` points at the parent repository even though stages run in a copy);
``MLFLOW_TRACKING_URI`` overrides it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

# Set before MLflow is imported anywhere: no telemetry leaves this machine.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"


def repo_root() -> Path:
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir() or (folder / ".git").exists():
            return folder
    return here


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / STORE_FILE}"


def flatten(params: Mapping, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _experiment_id(mlflow, name: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = None
    if tracking_uri().startswith("sqlite:"):
        artifact_location = (repo_root() / ARTIFACTS_DIR).as_uri()
    return mlflow.create_experiment(name, artifact_location=artifact_location)


class StageRun:
    """What a stage logs: per-epoch histories, final metrics, figures and files."""

    def __init__(self, mlflow, run_id: str):
        self._mlflow = mlflow
        self.run_id = run_id

    def log_history(self, history: pd.DataFrame, prefix: str = "") -> None:
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        metrics = [
            Metric(f"{prefix}{column}", float(value), timestamp, int(epoch))
            for column in history.columns if column != "epoch"
            for epoch, value in zip(history["epoch"], history[column])
        ]
        client = self._mlflow.MlflowClient()
        for start in range(0, len(metrics), 1000):
            client.log_batch(self.run_id, metrics=metrics[start:start + 1000])

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self._mlflow.log_metrics({key: float(value) for key, value in flatten(metrics).items()})

    def log_figure(self, figure, name: str) -> None:
        self._mlflow.log_figure(figure, f"figures/{name}")

    def log_artifact(self, path: str | Path) -> None:
        self._mlflow.log_artifact(str(path))


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: Mapping) -> Iterator[StageRun]:
    """Open one MLflow run named after the DVC stage; a failed stage ends its run as FAILED."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    tags = {"dvc.stage": stage}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.experiment"] = os.environ["DVC_EXP_NAME"]
    with mlflow.start_run(experiment_id=_experiment_id(mlflow, experiment), run_name=stage, tags=tags) as run:
        flat = flatten(params)
        items = list(flat.items())
        for start in range(0, len(items), 100):
            mlflow.log_params(dict(items[start:start + 100]))
        yield StageRun(mlflow, run.info.run_id)

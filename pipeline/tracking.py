"""MLflow, anchored at the repository root: one run per DVC stage, mirroring what DVC writes.

The store defaults to SQLite in the repository root (``$DVC_ROOT`` when DVC sets it, which
``dvc exp run --queue`` points at the parent repository even though stages run in a copy);
``MLFLOW_TRACKING_URI`` overrides it, e.g. with an ``mlflow server``.

A stage first writes what it logs (params, tags, metrics, histories, figures, files) to a folder
under ``.mlflow-pending/``, then sends that folder to MLflow and deletes it. When the tracking
server cannot be reached the folder stays, the stage still succeeds (DVC's outputs are the truth),
and ``python -m pipeline relog`` sends every waiting run later.

Each run is tagged with its provenance and nested under one parent run per ``dvc repro`` or
``dvc exp run`` invocation, which the MLflow UI shows as a group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from pipeline import io

# Set before MLflow is imported anywhere: no telemetry leaves this machine, and an unreachable
# server fails in seconds rather than after MLflow's default minutes of retries.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
PENDING_DIR = ".mlflow-pending"
RECORD = "run.json"
VERSIONED_PACKAGES = ("tensorflow", "keras", "dvc", "mlflow")
INVOCATION_TAG = "layerwise.invocation"


class TrackingUnavailable(Exception):
    """The tracking store could not be reached; the run waits in its pending folder."""


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


def pending_root() -> Path:
    return repo_root() / PENDING_DIR


def flatten(params: Mapping, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# --- provenance -------------------------------------------------------------------------------------

def git_commit(folder: Path) -> str:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def invocation() -> dict[str, str] | None:
    """The `dvc repro` / `dvc exp run` process this stage runs under: its key and a readable name."""
    import psutil

    try:
        for process in psutil.Process().parents():
            command = process.cmdline()
            if any(Path(part).name == "dvc" for part in command[:2]):
                started = datetime.fromtimestamp(process.create_time())
                experiment = os.environ.get("DVC_EXP_NAME")
                name = f"dvc exp run {experiment}" if experiment else f"dvc repro {started:%Y-%m-%d %H:%M:%S}"
                return {"key": f"{socket.gethostname()}:{process.pid}:{process.create_time():.3f}", "name": name}
    except psutil.Error:
        return None
    return None


def provenance(stage: str, inputs: Iterable[str | Path]) -> dict[str, str]:
    tags = {"dvc.stage": stage, "git.commit": git_commit(Path.cwd())}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.experiment"] = os.environ["DVC_EXP_NAME"]
    for package in VERSIONED_PACKAGES:
        try:
            tags[f"version.{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            tags[f"version.{package}"] = "not installed"
    for path in inputs:
        tags[f"input.{Path(path).as_posix()}"] = f"sha256:{io.content_hash(path)}"
    return tags


# --- what a stage logs: written to a pending folder first ----------------------------------------------

class StageRun:
    """What a stage logs: per-epoch histories, final metrics, figures and files, kept in a folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.metrics: dict[str, float] = {}

    def log_history(self, history: pd.DataFrame, prefix: str = "") -> None:
        (self.folder / "histories").mkdir(exist_ok=True)
        history.to_csv(self.folder / "histories" / f"{prefix or '_'}.csv", index=False)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        # A metric without a value (the spread of a single draw) has nothing to log.
        self.metrics.update({key: float(value) for key, value in flatten(metrics).items() if value is not None})

    def log_figure(self, figure, name: str) -> None:
        from pipeline.report.figures import png_bytes

        (self.folder / "figures").mkdir(exist_ok=True)
        (self.folder / "figures" / name).write_bytes(png_bytes(figure))

    def log_artifact(self, path: str | Path) -> None:
        (self.folder / "artifacts").mkdir(exist_ok=True)
        shutil.copy(path, self.folder / "artifacts" / Path(path).name)


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: Mapping, inputs: Iterable[str | Path] = ()) -> Iterator[StageRun]:
    """Collect one stage's run, then send it to MLflow; if MLflow is unreachable, keep it for `relog`.

    A stage that fails inside the block logs nothing: DVC does not record it either.
    """
    started = int(time.time() * 1000)
    record = {"stage": stage, "experiment": experiment, "params": {k: str(v) for k, v in flatten(params).items()},
              "tags": provenance(stage, inputs), "parent": invocation(), "start_ms": started}
    root = pending_root()
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    folder = root / f"{stamp}-{stage.replace('/', '_').replace(':', '_')}-{os.getpid()}"
    with io.atomic_path(folder, directory=True) as building:  # a killed stage leaves no half run to send
        run = StageRun(building)
        yield run
        record.update(metrics=run.metrics, end_ms=int(time.time() * 1000))
        (building / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
    try:
        send(folder)
    except TrackingUnavailable as error:
        _warn_once(record, error)


def _warn_once(record: dict, error: TrackingUnavailable) -> None:
    """One line per `dvc repro`: later stages of the same invocation stay quiet."""
    waiting = pending_runs()
    same = [path for path in waiting if record["parent"] and json.loads((path / RECORD).read_text()).get("parent") == record["parent"]]
    if len(same) > 1:
        return
    print(f"warning: MLflow tracking at {tracking_uri()} is unreachable ({error}); the stage's outputs are written and "
          f"its run waits in {pending_root()} ({len(waiting)} waiting): send them later with `python -m pipeline relog`",
          file=sys.stderr)


# --- sending a pending run to MLflow ----------------------------------------------------------------

def pending_runs() -> list[Path]:
    root = pending_root()
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if not path.name.startswith(".") and (path / RECORD).is_file())


def check_reachable(uri: str) -> None:
    """Fail fast with a short reason instead of waiting for MLflow's retries."""
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    try:
        response = requests.get(f"{uri.rstrip('/')}/health", timeout=5)
    except requests.RequestException as error:
        raise TrackingUnavailable(type(error).__name__) from None
    if response.status_code != 200:
        raise TrackingUnavailable(f"HTTP {response.status_code} from /health")


def send(folder: Path, uri: str | None = None) -> str:
    """Log one pending run to MLflow (nested under its invocation's parent run) and delete the folder."""
    from filelock import FileLock

    uri = uri or tracking_uri()
    check_reachable(uri)
    try:
        # One sender at a time per repository: parallel experiments (`dvc queue start -j 2`) share one SQLite file.
        with FileLock(pending_root() / ".send.lock", timeout=300):
            run_id = _log(folder, uri)
    except Exception as error:  # noqa: BLE001 - any failure of the store leaves the run waiting, never the stage failing
        raise TrackingUnavailable(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
    shutil.rmtree(folder)
    return run_id


def _log(folder: Path, uri: str) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    record = json.loads((folder / RECORD).read_text())
    client = MlflowClient(tracking_uri=uri)
    partial = folder / "partial_run_id"
    if partial.exists():  # an earlier attempt died half-way: replace its run, never duplicate it
        with contextlib.suppress(Exception):
            client.delete_run(partial.read_text().strip())
    experiment_id = _experiment_id(client, record["experiment"], uri)
    tags = dict(record["tags"])
    if record.get("parent"):
        tags["mlflow.parentRunId"] = _parent_run(client, experiment_id, record)
    run = client.create_run(experiment_id, start_time=record["start_ms"], tags=tags, run_name=record["stage"])
    run_id = run.info.run_id
    partial.write_text(run_id)

    params = [Param(key, value) for key, value in record["params"].items()]
    metrics = [Metric(key, value, record["end_ms"], 0) for key, value in record["metrics"].items()]
    for history_file in sorted((folder / "histories").glob("*.csv")) if (folder / "histories").is_dir() else []:
        prefix = "" if history_file.stem == "_" else history_file.stem
        history = pd.read_csv(history_file)
        metrics += [Metric(f"{prefix}{column}", float(value), record["end_ms"], int(epoch))
                    for column in history.columns if column != "epoch"
                    for epoch, value in zip(history["epoch"], history[column])]
    for start in range(0, max(len(params), 1), 100):
        client.log_batch(run_id, params=params[start:start + 100])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    for kind in ("figures", "artifacts"):
        if (folder / kind).is_dir():
            for path in sorted((folder / kind).iterdir()):
                client.log_artifact(run_id, str(path), "figures" if kind == "figures" else None)
    client.set_terminated(run_id, "FINISHED", end_time=record["end_ms"])
    return run_id


def _experiment_id(client, name: str, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = (repo_root() / ARTIFACTS_DIR).as_uri() if uri.startswith("sqlite:") else None
    return client.create_experiment(name, artifact_location=artifact_location)


def _parent_run(client, experiment_id: str, record: dict) -> str:
    """One parent run per dvc invocation, found by its key or created finished (it only groups)."""
    parent = record["parent"]
    found = client.search_runs([experiment_id], filter_string=f"tags.`{INVOCATION_TAG}` = '{parent['key']}'", max_results=1)
    if found:
        return found[0].info.run_id
    tags = {INVOCATION_TAG: parent["key"], "git.commit": record["tags"]["git.commit"]}
    if "dvc.experiment" in record["tags"]:
        tags["dvc.experiment"] = record["tags"]["dvc.experiment"]
    run = client.create_run(experiment_id, start_time=record["start_ms"], tags=tags, run_name=parent["name"])
    client.set_terminated(run.info.run_id, "FINISHED", end_time=record["start_ms"])
    return run.info.run_id


def relog(uri: str | None = None) -> tuple[int, list[str]]:
    """Send every waiting run; return how many were sent and why the others still wait."""
    sent, failures = 0, []
    for folder in pending_runs():
        try:
            send(folder, uri)
            sent += 1
        except TrackingUnavailable as error:
            failures.append(f"{folder.name}: {error}")
    return sent, failures

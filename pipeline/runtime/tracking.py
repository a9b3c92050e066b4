"""MLflow, anchored at the repository root: one run per DVC stage, mirroring what DVC writes (docs/mlflow.md).

A stage writes its run to a folder under ``.mlflow-pending/``, then sends it: when the store is unreachable the stage
still succeeds and ``python -m pipeline relog`` sends the run later, with the stage's own start and end times.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from pipeline.runtime import environment, io

# Before MLflow is imported anywhere: no telemetry, short retries against an unreachable server.
environment.apply()

STORE_FILE, ARTIFACTS_DIR, PENDING_DIR, RECORD = "mlflow.db", "mlartifacts", ".mlflow-pending", "run.json"
VERSIONED_PACKAGES = ("tensorflow", "keras", "dvc", "mlflow")
INVOCATION_TAG = "layerwise.invocation"
# The tag MLflow's UI writes when a user sets an experiment's type to "Machine learning".
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# What a parent run shares with its stages: who ran them, from which commit.
SHARED_TAGS = ("mlflow.user", "mlflow.source.git.commit", "mlflow.source.git.branch", "dvc.experiment")

_process_start: float | None = None


class TrackingUnavailable(Exception):
    """The tracking store could not be reached; the run waits in its pending folder."""


def repo_root() -> Path:
    """Where the store and the pending folder live: never the working directory, which DVC may make a copy."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    return next(
        (folder for folder in (here, *here.parents) if (folder / ".dvc").is_dir() or (folder / ".git").exists()), here
    )


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / STORE_FILE}"


def pending_root() -> Path:
    return repo_root() / PENDING_DIR


def time_runs_from_process_start() -> None:
    """Start this process's runs when the process started (stages call this first): a stage logs at its end, and
    MLflow's Duration should be the stage's (imports, loading, training), not the logging's."""
    global _process_start
    _process_start = _start_time()


def _start_time(pid: int | None = None) -> float:
    """A process's start, in seconds since the epoch: on Linux exact to the kernel's 10 ms, where psutil adds a boot
    time rounded down to the second and so can be up to a second early."""
    try:
        since_boot = int(Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME) + since_boot / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError, IndexError):  # not Linux
        import psutil

        return psutil.Process(pid).create_time()


def invocation() -> dict | None:
    """The `dvc repro` / `dvc exp run` process this stage runs under: its key, a readable name and its start."""
    import psutil

    try:
        for process in psutil.Process().parents():
            if any(Path(part).name == "dvc" for part in process.cmdline()[:2]):
                started, experiment = process.create_time(), os.environ.get("DVC_EXP_NAME")
                name = f"dvc repro {datetime.fromtimestamp(started):%Y-%m-%d %H:%M:%S}"
                return {
                    "key": f"{socket.gethostname()}:{process.pid}:{started:.3f}",
                    "name": f"dvc exp run {experiment}" if experiment else name,
                    "start_ms": int(_start_time(process.pid) * 1000),
                }
    except psutil.Error:
        return None
    return None


def provenance(stage: str, inputs: Iterable[str | Path]) -> dict[str, str]:
    """MLflow's own run tags (source file, git commit, user) plus what only DVC knows. MLflow resolves its tags from
    the running process, so they are resolved here, in the stage: a later `relog` runs elsewhere."""
    from mlflow.tracking.context.registry import resolve_tags

    tags = {"dvc.stage": stage}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.experiment"] = os.environ["DVC_EXP_NAME"]
    for package in VERSIONED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            tags[f"version.{package}"] = metadata.version(package)
    for path in inputs:
        tags[f"input.{Path(path).as_posix()}"] = f"sha256:{io.content_hash(path)}"
    return resolve_tags(tags)


class StageRun:
    """What a stage logs, kept in its pending folder until MLflow has it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.metrics: dict[str, float] = {}

    def _subfolder(self, name: str) -> Path:
        (self.folder / name).mkdir(exist_ok=True)
        return self.folder / name

    def log_history(self, history: pd.DataFrame, prefix: str = "") -> None:
        """Per-epoch values (an ``epoch`` column), sent as step metrics: step = epoch."""
        history.to_csv(self._subfolder("histories") / f"{prefix or '_'}.csv", index=False)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        # A metric without a value (the spread of a single draw) has nothing to log.
        self.metrics.update({key: float(value) for key, value in io.flat(metrics).items() if value is not None})

    def log_figure(self, png: bytes, name: str) -> None:
        """A figure already drawn (PNG bytes): tracking draws nothing itself, so no stage depends on plotting code
        through it."""
        (self._subfolder("figures") / name).write_bytes(png)

    def log_artifact(self, path: str | Path) -> None:
        shutil.copy(path, self._subfolder("artifacts") / Path(path).name)


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: Mapping, inputs: Iterable[str | Path] = ()) -> Iterator[StageRun]:
    """Collect one stage's run, then send it to MLflow; if MLflow is unreachable, keep it for `relog`.

    The run starts when the stage process did (outside a stage: when the block is entered) and ends with the block.
    A stage that fails inside the block logs nothing: DVC does not record it either.
    """
    record = {
        "stage": stage,
        "experiment": experiment,
        "start_ms": int(1000 * (_process_start or time.time())),
        "params": {key: str(value) for key, value in io.flat(params).items()},
        "tags": provenance(stage, inputs),
        "parent": invocation(),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    folder = pending_root() / f"{stamp}-{stage.replace('/', '_').replace(':', '_')}-{os.getpid()}"
    with io.atomic_path(folder, directory=True) as building:  # a killed stage leaves no half run to send
        logged = StageRun(building)
        yield logged
        record.update(metrics=logged.metrics, end_ms=int(time.time() * 1000))
        (building / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
    try:
        send(folder)
    except TrackingUnavailable as error:  # one line per `dvc repro`: its later stages stay quiet
        waiting = pending_runs()
        if not record["parent"] or sum(_read(path).get("parent") == record["parent"] for path in waiting) == 1:
            print(
                f"warning: MLflow tracking at {tracking_uri()} is unreachable ({error}); the stage's outputs are "
                f"written and its run waits in {pending_root()} ({len(waiting)} waiting): send them later with "
                "`python -m pipeline relog`",
                file=sys.stderr,
            )


def _read(folder: Path) -> dict:
    return json.loads((folder / RECORD).read_text())


def pending_runs() -> list[Path]:
    root = pending_root()
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if not path.name.startswith(".") and (path / RECORD).is_file())


def send(folder: Path, uri: str | None = None) -> str:
    """Log one pending run to MLflow (nested under its invocation's parent run) and delete the folder."""
    import requests
    from filelock import FileLock

    uri = uri or tracking_uri()
    try:
        if uri.startswith(("http://", "https://")):  # fail fast with a short reason rather than after retries
            requests.get(f"{uri.rstrip('/')}/health", timeout=5).raise_for_status()
        # One sender at a time per repository: parallel experiments (`dvc queue start -j 2`) share one SQLite file.
        with FileLock(pending_root() / ".send.lock", timeout=300):
            run_id = _log(folder, uri)
    except requests.ConnectionError as error:
        raise TrackingUnavailable(type(error).__name__) from None
    except Exception as error:  # noqa: BLE001 - a failing store leaves the run waiting, never the stage failing
        raise TrackingUnavailable(f"{type(error).__name__}: {next(iter(str(error).splitlines()), '')}") from None
    shutil.rmtree(folder)
    return run_id


def _log(folder: Path, uri: str) -> str:
    """Create the run at the stage's start, log with MLflow's fluent API, end it at the stage's end: the client only
    creates and ends it, since `mlflow.start_run` and `mlflow.end_run` stamp the time of sending."""
    import mlflow

    record = _read(folder)
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    partial = folder / "partial_run_id"
    if partial.exists():  # an earlier attempt died half-way: replace its run, never duplicate it
        with contextlib.suppress(Exception):
            client.delete_run(partial.read_text().strip())
    experiment_id = _experiment_id(client, record["experiment"], uri)
    tags = dict(record["tags"])
    if record.get("parent"):
        tags["mlflow.parentRunId"] = _parent_run(client, experiment_id, record)
    run_id = client.create_run(
        experiment_id, start_time=record["start_ms"], tags=tags, run_name=record["stage"]
    ).info.run_id
    partial.write_text(run_id)

    logged_at = {"timestamp": record["end_ms"], "run_id": run_id}
    mlflow.log_params(record["params"], run_id=run_id)
    steps: dict[int, dict[str, float]] = {}  # every history's values of one epoch in one call
    for history in sorted(folder.glob("histories/*.csv")):
        prefix = "" if history.stem == "_" else history.stem
        for row in pd.read_csv(history).to_dict("records"):
            steps.setdefault(int(row.pop("epoch")), {}).update({f"{prefix}{key}": value for key, value in row.items()})
    for step, values in sorted(steps.items()):
        mlflow.log_metrics(values, step=step, **logged_at)
    if record["metrics"]:
        mlflow.log_metrics(record["metrics"], **logged_at)
    for kind, artifact_path in (("figures", "figures"), ("artifacts", None)):
        if (folder / kind).is_dir():
            mlflow.log_artifacts(str(folder / kind), artifact_path, run_id=run_id)
    client.set_terminated(run_id, "FINISHED", end_time=record["end_ms"])
    return run_id


def _experiment_id(client, name: str, uri: str) -> str:
    """The experiment, found or created (artifacts beside a SQLite store), marked as model training unless it has a
    type already. MLflow 3.17's UI reads its browser switch before this mark: see `ui_url`."""
    key, kind = EXPERIMENT_KIND
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        artifact_location = (repo_root() / ARTIFACTS_DIR).as_uri() if uri.startswith("sqlite:") else None
        return client.create_experiment(name, artifact_location=artifact_location, tags={key: kind})
    if key not in experiment.tags:
        client.set_experiment_tag(experiment.experiment_id, key, kind)
    return experiment.experiment_id


def _parent_run(client, experiment_id: str, record: dict) -> str:
    """The run grouping one dvc invocation's stages, found by its key or created. It starts when dvc did and ends
    with the last stage sent, so its Duration is the invocation's."""
    parent, end_ms = record["parent"], record["end_ms"]
    found = client.search_runs([experiment_id], f"tags.`{INVOCATION_TAG}` = '{parent['key']}'", max_results=1)
    if found:
        run_id, end_ms = found[0].info.run_id, max(found[0].info.end_time or 0, end_ms)
    else:
        shared = {key: record["tags"][key] for key in SHARED_TAGS if key in record["tags"]}
        tags = {INVOCATION_TAG: parent["key"], **shared}
        start_ms = parent.get("start_ms", record["start_ms"])  # runs that waited from before parents had a start
        run_id = client.create_run(experiment_id, start_time=start_ms, tags=tags, run_name=parent["name"]).info.run_id
    client.set_terminated(run_id, "FINISHED", end_time=end_ms)
    return run_id


def ui_url(experiment: str, base: str = "http://127.0.0.1:5000") -> str:
    """The link that opens `mlflow ui` on the experiment's runs. MLflow 3.17's UI opens an experiment as GenAI
    (overview, traces) or as model training after a switch kept in the browser, GenAI unless set, whatever the
    experiment's tags say; the link sets it."""
    from mlflow import MlflowClient

    found = MlflowClient(tracking_uri()).get_experiment_by_name(experiment)
    page = f"experiments/{found.experiment_id}/runs" if found else "experiments"
    return f"{base.rstrip('/')}/#/{page}?workflowType=machine_learning"


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

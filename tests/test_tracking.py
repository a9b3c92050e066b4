"""MLflow logging through a pending folder: a real SQLite store, a real `mlflow server`, and no server at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from pipeline.__main__ import main as pipeline_main
from pipeline.report.figures import png_bytes
from pipeline.runtime import tracking
from tests.conftest import ROOT, free_port, mlflow_server

KIND = {"mlflow.experimentKind": "custom_model_development"}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "codings.npy").write_bytes(b"abc")
    return tmp_path


def store(repo: Path) -> str:
    return f"sqlite:///{repo / 'mlflow.db'}"


def log_one_stage(name: str = "pretrain@l1", work_s: float = 0.0) -> None:
    figure, axes = plt.subplots()
    axes.plot([1, 2], [2, 1])
    with tracking.stage_run(name, "layerwise", {"units": 32, "nested": {"rate": 0.5}}, inputs=["inputs"]) as run:
        time.sleep(work_s)
        run.log_history(pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.3, 0.2, 0.1], "val_loss": [0.4, 0.3, 0.2]}))
        run.log_history(pd.DataFrame({"epoch": [1], "loss": [0.5]}), prefix="kl_")  # a chapter stage's second model
        run.log_metrics({"test_mse": 0.125, "spread": None})
        run.log_figure(png_bytes(figure), "curve.png")
        run.log_artifact(Path("inputs") / "codings.npy")


def the_run(client: MlflowClient, name: str = "pretrain@l1"):
    experiment = client.get_experiment_by_name("layerwise")
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`dvc.stage` = '{name}'")
    assert len(runs) == 1
    return runs[0]


def check_logged(client: MlflowClient, name: str = "pretrain@l1") -> None:
    run = the_run(client, name)
    assert run.info.run_name == name and run.info.status == "FINISHED"
    assert run.data.params == {"units": "32", "nested.rate": "0.5"}
    assert run.data.metrics["test_mse"] == 0.125 and "spread" not in run.data.metrics
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_loss")] == [
        (1, 0.4),
        (2, 0.3),
        (3, 0.2),
    ]
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "kl_loss")] == [(1, 0.5)]
    tags = run.data.tags
    assert tags["input.inputs"].startswith("sha256:") and tags["version.mlflow"] and tags["version.tensorflow"]
    assert {"version.keras", "version.dvc"} <= set(tags)
    # MLflow's own tags, resolved in the stage's process
    assert tags["mlflow.source.type"] == "LOCAL" and tags["mlflow.source.name"] and tags["mlflow.user"]
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["codings.npy", "figures"]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "figures")] == ["figures/curve.png"]
    assert client.get_experiment_by_name("layerwise").tags.items() >= KIND.items()


def test_a_stage_run_reaches_the_sqlite_store_and_leaves_nothing_waiting(repo):
    log_one_stage()
    check_logged(MlflowClient(tracking_uri=store(repo)))
    assert (repo / "mlartifacts").is_dir(), "artifacts live beside the store, at the repository root"
    assert tracking.pending_runs() == []


def test_store_and_pending_folder_are_anchored_at_the_repository_root(tmp_path, monkeypatch):
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "stages").mkdir()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.chdir(tmp_path / "stages")
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert tracking.pending_root() == tmp_path / ".mlflow-pending"
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "parent"))  # `dvc exp run --queue`: stages run in a copy
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'parent' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"


def test_the_experiment_is_marked_as_model_training_for_the_mlflow_ui(repo):
    client = MlflowClient(tracking_uri=store(repo))
    log_one_stage()
    assert client.get_experiment_by_name("layerwise").tags.items() >= KIND.items(), "set when created"

    older = client.create_experiment("older")  # made before this mark existed
    with tracking.stage_run("validate", "older", {}):
        pass
    assert client.get_experiment(older).tags.items() >= KIND.items(), "set on an experiment that lacks it"

    experiment_id = client.get_experiment_by_name("layerwise").experiment_id
    assert (
        tracking.ui_url("layerwise") == f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs"
        "?workflowType=machine_learning"
    ), "MLflow 3.17's UI opens an experiment as GenAI unless the link says otherwise"
    assert tracking.ui_url("none yet", "http://host:5001/").endswith(
        "host:5001/#/experiments?workflowType=machine_learning"
    )

    chosen = client.create_experiment("chosen", tags={"mlflow.experimentKind": "genai_development"})
    with tracking.stage_run("validate", "chosen", {}):
        pass
    assert client.get_experiment(chosen).tags["mlflow.experimentKind"] == "genai_development", "a user's choice stays"


def test_a_run_lasts_as_long_as_the_work_in_its_block(repo):
    before = time.time() * 1000
    log_one_stage(work_s=1.0)
    run = the_run(MlflowClient(tracking_uri=store(repo))).info
    assert before - 5 <= run.start_time <= before + 1000, "the run starts before the work, not after it"
    assert 1000 <= run.end_time - run.start_time < 1000 + 3000


STAGE = """
    import sys, time
    from pipeline.runtime import tracking
    from pipeline.runtime.stage import run

    def main(argv):
        time.sleep(1.0)  # the training, before the stage logs anything
        with tracking.stage_run("pretrain@l1", "layerwise", {"units": 32}) as logged:
            logged.log_metrics({"test_mse": 0.125})

    run(main)
"""


def test_a_stage_process_run_starts_when_the_process_did(repo):
    """As DVC runs a stage: a process that trains first and logs at its end; the run spans the whole process."""
    script = repo / "stage.py"
    script.write_text(textwrap.dedent(STAGE))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "stage.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "stage"], cwd=repo, check=True)
    launched = time.time() * 1000
    subprocess.run([sys.executable, str(script)], cwd=repo, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    exited = time.time() * 1000

    run = the_run(MlflowClient(tracking_uri=store(repo)))
    assert launched - 20 <= run.info.start_time <= launched + 500, "the run starts with the process"
    assert 1000 <= run.info.end_time - run.info.start_time <= exited - launched
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert run.data.tags["mlflow.source.git.commit"] == commit.strip()
    assert run.data.tags["mlflow.source.name"] == str(script)


def test_the_runs_of_one_dvc_invocation_are_grouped_under_a_parent_that_spans_them(repo, monkeypatch):
    started = int(time.time() * 1000) - 60_000
    invocation = {"key": "host:42:1.000", "name": "dvc repro 2026-01-01 00:00:00", "start_ms": started}
    monkeypatch.setattr(tracking, "invocation", lambda: invocation)
    log_one_stage("pretrain@l1")
    log_one_stage("pretrain@l2", work_s=0.2)

    client = MlflowClient(tracking_uri=store(repo))
    l1, l2 = the_run(client, "pretrain@l1"), the_run(client, "pretrain@l2")
    assert l1.data.tags["mlflow.parentRunId"] == l2.data.tags["mlflow.parentRunId"]
    parent = client.get_run(l1.data.tags["mlflow.parentRunId"])
    assert parent.info.run_name == invocation["name"] and "dvc.stage" not in parent.data.tags
    assert parent.info.start_time == started and parent.info.end_time == l2.info.end_time
    assert parent.data.tags["mlflow.user"] == l1.data.tags["mlflow.user"]


def test_unreachable_server_keeps_the_run_warns_in_one_line_and_relog_sends_it_later(repo, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    log_one_stage(work_s=1.0)
    assert time.monotonic() - started < 30, "an unreachable server must not stall the stage"
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: MLflow tracking at http://127.0.0.1:")
    assert "python -m pipeline relog" in warnings[0]
    [waiting] = tracking.pending_runs()
    record = json.loads((waiting / "run.json").read_text())

    assert pipeline_main(["relog"]) == 1, "still unreachable: the run keeps waiting"
    assert len(tracking.pending_runs()) == 1
    time.sleep(0.5)  # the replay comes later than the stage
    assert pipeline_main(["relog", "--tracking-uri", store(repo)]) == 0
    assert "sent 1 of 1 waiting runs" in capsys.readouterr().out
    client = MlflowClient(tracking_uri=store(repo))
    check_logged(client)
    assert tracking.pending_runs() == []
    run = the_run(client).info
    assert (run.start_time, run.end_time) == (record["start_ms"], record["end_ms"]), "the stage's times, not relog's"
    assert run.end_time - run.start_time >= 1000 and run.end_time < time.time() * 1000 - 500


def test_a_real_server_gets_the_run_and_its_rest_api_shows_the_experiment_kind(repo, tmp_path_factory, monkeypatch):
    with mlflow_server(tmp_path_factory.mktemp("server")) as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        log_one_stage(work_s=0.5)
        check_logged(MlflowClient(tracking_uri=uri))
        assert tracking.pending_runs() == []
        answer = requests.get(
            f"{uri}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "layerwise"}, timeout=10
        ).json()
        assert {"key": "mlflow.experimentKind", "value": "custom_model_development"} in answer["experiment"]["tags"]
        run = the_run(MlflowClient(tracking_uri=uri)).info
        assert run.end_time - run.start_time >= 500

"""MLflow logging through a pending folder: a real SQLite store, a real `mlflow server`, and no server at all."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from pipeline import tracking  # noqa: E402
from pipeline.__main__ import main as pipeline_main  # noqa: E402
from tests.conftest import free_port  # noqa: E402



@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "codings.npy").write_bytes(b"abc")
    return tmp_path


def log_one_stage(name: str = "pretrain@l1") -> None:
    figure, axes = plt.subplots()
    axes.plot([1, 2], [2, 1])
    with tracking.stage_run(name, "layerwise", {"units": 32, "nested": {"rate": 0.5}}, inputs=["inputs"]) as run:
        run.log_history(pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.3, 0.2, 0.1], "val_loss": [0.4, 0.3, 0.2]}))
        run.log_metrics({"test_mse": 0.125})
        run.log_figure(figure, "curve.png")
        run.log_artifact(Path("inputs") / "codings.npy")


def check_logged(client: MlflowClient, name: str = "pretrain@l1") -> None:
    experiment = client.get_experiment_by_name("layerwise")
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`dvc.stage` = '{name}'")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params == {"units": "32", "nested.rate": "0.5"}
    assert run.data.metrics["test_mse"] == 0.125
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_loss")] == [(1, 0.4), (2, 0.3), (3, 0.2)]
    tags = run.data.tags
    assert tags["input.inputs"].startswith("sha256:") and tags["version.mlflow"] and tags["version.tensorflow"]
    assert {"git.commit", "version.keras", "version.dvc"} <= set(tags)
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["codings.npy", "figures"]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "figures")] == ["figures/curve.png"]
    assert run.info.status == "FINISHED"


def test_a_stage_run_reaches_the_sqlite_store_and_leaves_nothing_waiting(repo):
    log_one_stage()
    check_logged(MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}"))
    assert tracking.pending_runs() == []


def test_unreachable_server_keeps_the_run_warns_in_one_line_and_relog_sends_it_later(repo, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    log_one_stage()
    assert time.monotonic() - started < 30, "an unreachable server must not stall the stage"
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: MLflow tracking at http://127.0.0.1:")
    assert "python -m pipeline relog" in warnings[0]
    assert len(tracking.pending_runs()) == 1

    assert pipeline_main(["relog"]) == 1, "still unreachable: the run keeps waiting"
    assert len(tracking.pending_runs()) == 1
    store = f"sqlite:///{repo / 'mlflow.db'}"
    assert pipeline_main(["relog", "--tracking-uri", store]) == 0
    assert "sent 1 of 1 waiting runs" in capsys.readouterr().out
    check_logged(MlflowClient(tracking_uri=store))
    assert tracking.pending_runs() == []

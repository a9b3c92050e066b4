"""The real thing at tiny scale: `dvc repro` in a temporary git repository, real MLflow store.

Slow (minutes): `pytest -m "not slow"` leaves this module out. The first `dvc repro` runs once per session; each
test gets its own copy of that repository (git history, DVC cache, MLflow store), so any test runs alone
(`pytest -k NAME`), in any order, and nothing has to be restored.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.chapter import TECHNIQUES
from pipeline.runtime import environment
from tests.conftest import ROOT, mlflow_server, tiny_params

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PROJECT_FILES = [
    "pipeline",
    "stages",
    "dvc.yaml",
    "environment.env",
    ".dvc/config",
    ".dvc/plots",
    ".dvcignore",
    ".gitignore",
]


def clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_TRACKING", "DVC_"))}
    env.update(environment.variables(), PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}")
    return env


def sh(repo: Path, *command: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=repo, env={**clean_env(), **(env or {})}, capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, str(BIN / "dvc"), *args, check=check)


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def lock_hashes(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


def experiments(repo: Path) -> dict[str, dict]:
    """`dvc exp show --json`, as {experiment name: its params and metrics}."""
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    return {
        state.get("name"): state["data"]
        for entry in shown
        for group in (entry.get("experiments") or [])
        for state in group["revs"]
    }


def write_params(repo: Path, params: dict) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory, tiny_idx) -> Path:
    """The tiny project after its first `dvc repro`, committed: never changed by a test (see ``repo``)."""
    repo = tmp_path_factory.mktemp("reproduced")
    for name in PROJECT_FILES:
        source = ROOT / name
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, repo / name)
    write_params(repo, tiny_params(tiny_idx))
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny project")
    first = dvc(repo, "repro")
    repo.joinpath("first_run.log").write_text(first.stdout)
    repo.joinpath("first_run_hashes.json").write_text(json.dumps(lock_hashes(repo)))
    commit_all(repo, "results")  # as in a real project: experiments start from a commit with its dvc.lock
    return repo


@pytest.fixture
def repo(reproduced, tmp_path) -> Path:
    """This test's own copy of the reproduced project."""
    copy = tmp_path / "repo"
    shutil.copytree(reproduced, copy, symlinks=True)
    return copy


def commit_all(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    if sh(repo, "git", "status", "--porcelain").stdout:
        sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


def test_first_repro_runs_every_stage_and_writes_every_output(repo):
    ran = stages_run(repo.joinpath("first_run.log").read_text())
    classify = {
        f"{start}@{recipe}" for start in ("classify", "random-start") for recipe in ("supervised", "propagation")
    }
    chapter = {technique.stage for technique in TECHNIQUES}
    assert (
        ran
        == {"validate", "fetch", "split", "pretrain@l1", "pretrain@l2", "stack", "baseline", "probe", "report", "graph"}
        | {"labels"}
        | classify
        | chapter
    )

    card = json.loads((repo / "data/card.json").read_text())
    assert card["counts"]["train"]["images"] == 600
    for layer in ("l1", "l2"):
        assert (repo / f"data/features/{layer}/train.npy").exists()
        metrics = json.loads((repo / f"metrics/pretrain/{layer}.json").read_text())
        assert metrics["test_mse"] > 0
    stack = json.loads((repo / "metrics/stack.json").read_text())
    assert stack["test_mse_after_finetune"] < stack["test_mse_before_finetune"]
    accuracy = {
        init: json.loads((repo / f"metrics/classify/propagation{suffix}.json").read_text())["50"][init]
        for init, suffix in (("pretrained", ""), ("random", "-random"))
    }
    for init in ("pretrained", "random"):
        assert accuracy[init]["draw_1"]["labels_seen"] == 50 and accuracy[init]["test_accuracy_mean"] > 0.3
    assert any(accuracy[init]["draw_1"] != accuracy[init]["draw_2"] for init in ("pretrained", "random")), (
        "each draw trains on its own labelled images"
    )
    fewlabel = pd.read_csv(repo / "reports/fewlabel.csv")
    probes = {"nearest_neighbours"} | {
        f"{name}_on_{layer}" for name in ("logistic_regression", "nearest_neighbours") for layer in ("l1", "l2")
    }
    assert len(fewlabel) == 2 * (2 * 2 + 1 + 5) and set(fewlabel.recipe) == {
        "supervised",
        "propagation",
        "logistic_regression",
        *probes,
    }
    assert fewlabel.draws.eq(2).all() and fewlabel.diff_vs_pixels_low.notna().sum() == 8 + 2 * 4
    probe = json.loads((repo / "metrics/probe.json").read_text())
    assert set(probe) == {"l1", "l2"} and set(probe["l1"]) == {"20", "50"}
    assert probe["l2"]["50"]["draw_2"].keys() == {"test_accuracy", "neighbours_test_accuracy"}

    html = (repo / "reports/index.html").read_text()
    assert "data:image/png;base64," in html and '<img src="figures/' not in html, "the page must be self-contained"
    assert "class &lt;0&gt;" in html and "class <0>" not in html, "class names from data are escaped"
    assert "idx &lt;b&gt;&amp;amp;" in html and "<b>" not in html, "params values are escaped"
    markdown = (repo / "reports/report.md").read_text()
    assert "idx &lt;b&gt;&amp;amp;" in markdown and "<b>" not in markdown
    assert "## 3. Unsupervised pretraining for classification with few labels" in markdown
    assert (
        "training images; to show what the pretraining itself contributes, *supervised* and *propagation* also start "
        "from a random one (`classify.random_start`). A" in " ".join(markdown.split())
    )
    assert "Not run here: `frozen`, `autoencoder`, `frozen_propagation` (a recipe runs once named in" in markdown
    assert not re.search(r"[a-z][.,;][A-Z]", markdown), "no sentence runs into the next"
    assert "### Which pretraining pays" in markdown
    assert "With 20 labels, the largest gain over the pixels is l" in " ".join(markdown.split())
    assert re.search(
        r"^\| l2: 16 units, dropout noise 0.2, not sparse\s+\| nearest neighbours\s+\|"
        r"\s+[\d.]+ ± [\d.]+; [-+][\d.]+ \(",
        markdown,
        re.M,
    )
    assert re.search(r"^\|\s+50 \|\s+[-+][\d.]+ \([-+][\d.]+ to [-+][\d.]+\): ", markdown, re.M), "pretrained - random"
    assert re.search(r"^\|\s+50 \|\s+[\d.]+ ± [\d.]+ \|", markdown, re.M), "the accuracy table has a row per budget"
    assert " ± " in markdown and "95 % Student-t interval of their paired difference" in markdown
    assert "With 50 labels (2 draws), the best recipe is" in markdown
    assert sorted(p.name for p in (repo / "reports/figures").iterdir()) == sorted(
        [
            "accuracy_vs_labels.png",
            "learning_curves.png",
            "reconstructions.png",
            *(f"chapter_{technique.name}.png" for technique in TECHNIQUES),
        ]
    )
    for number, technique in enumerate(TECHNIQUES, 1):  # each technique: its section, figure and numbers
        assert f"<h3>4.{number} {technique.title}</h3>" in html and f"chapter_{technique.name}.png" in markdown
    # one source: every table and figure of the Markdown is in the page, and nothing else
    assert html.count("<table>") == len(re.findall(r"^\|[-:| ]+\|$", markdown, re.M)) >= 10
    assert html.count('<img src="data:image/png;base64,') == markdown.count("](figures/") == 3 + len(TECHNIQUES)
    phases = json.loads((repo / "metrics/chapter/phases.json").read_text())
    assert phases["cache_work_saving"] >= 1 and phases["joint_test_mse"] > 0  # 1 when each phase trains one epoch
    assert f"{phases['cache_work_saving']:.2f} times less" in markdown
    assert not any(
        "seconds" in key for path in (repo / "metrics").rglob("*.json") for key in json.loads(path.read_text())
    ), "wall-clock times vary from run to run: MLflow only, never the metrics DVC compares"


def test_dvc_sees_the_headline_metrics_and_the_plots(repo):
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]
    assert list(files) == ["reports/summary.json"], "the details are tracked outputs, not DVC metrics"
    summary = files["reports/summary.json"]["data"]
    assert list(summary["accuracy"]) == ["20", "50"] and list(summary["mse"]) == [
        "l1",
        "l2",
        "stack",
        "stack_finetuned",
    ]
    assert set(summary["accuracy"]["20"]) == {"supervised", "propagation", "logistic_regression"}
    dvc(repo, "plots", "show", "-o", "dvc_plots")
    assert "Test accuracy against labels" in (repo / "dvc_plots/index.html").read_text()


def test_every_stage_logged_one_mlflow_run_grouped_under_its_dvc_repro(repo):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("layerwise")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    stages = [run for run in runs if "dvc.stage" in run.data.tags]
    names = sorted(run.info.run_name for run in stages)
    assert names == sorted(stages_run(repo.joinpath("first_run.log").read_text())), "every stage, once"
    parents = {run.data.tags["mlflow.parentRunId"] for run in stages}
    assert len(parents) == 1, "one dvc repro, one group"
    parent = client.get_run(parents.pop())
    assert parent.info.run_name.startswith("dvc repro ") and "dvc.stage" not in parent.data.tags
    # MLflow's own time columns tell the training's duration: a run spans its stage, the parent the whole repro
    assert parent.info.start_time <= min(run.info.start_time for run in stages)
    assert parent.info.end_time == max(run.info.end_time for run in stages)
    assert all(
        run.info.end_time - run.info.start_time >= 1000 for run in stages if run.info.run_name.startswith("pretrain@")
    )

    by_name = {run.info.run_name: run for run in stages}
    l1 = by_name["pretrain@l1"]
    assert l1.data.params["units"] == "32" and l1.data.tags["dvc.stage"] == "pretrain@l1"
    commit = sh(repo, "git", "rev-parse", "HEAD^").stdout.strip()  # the one the first repro ran at
    assert l1.data.tags["mlflow.source.git.commit"] == commit
    assert l1.data.tags["input.data/features/pixels"].startswith("sha256:")
    assert by_name["pretrain@l2"].data.tags["input.data/features/l1"].startswith("sha256:")
    assert all(
        run.data.tags[f"version.{package}"] for package in ("tensorflow", "keras", "dvc", "mlflow") for run in stages
    )
    history = client.get_metric_history(l1.info.run_id, "val_loss")
    assert [point.step for point in history] == [1, 2, 3]
    sparsity = by_name["chapter@sparsity"]  # a chapter stage: its params, one learning curve per model, its figure
    assert sparsity.data.params["kl_target"] == "0.1" and sparsity.data.metrics["kl_mean_activation"] > 0
    assert [point.step for point in client.get_metric_history(sparsity.info.run_id, "kl_val_loss")] == [1]
    assert "test_mse" in l1.data.metrics
    assert (repo / "mlartifacts").is_dir(), "artifacts live at the repository root"
    assert not list((repo / ".mlflow-pending").glob("*/run.json")), "nothing waits to be logged"


def test_unreachable_tracking_server_loses_nothing(repo):
    from mlflow.tracking import MlflowClient

    metrics = (repo / "metrics/baseline.json").read_bytes()
    result = sh(
        repo,
        str(BIN / "dvc"),
        "repro",
        "--force",
        "--single-item",
        "baseline",
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
    )
    assert stages_run(result.stdout) == {"baseline"}
    assert (repo / "metrics/baseline.json").read_bytes() == metrics, "the stage finished and wrote its outputs"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: MLflow")]
    assert len(warnings) == 1 and "python -m pipeline relog" in warnings[0]

    store = f"sqlite:///{repo / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("layerwise").experiment_id
    count = lambda: len(client.search_runs([experiment], "tags.`dvc.stage` = 'baseline'"))  # noqa: E731
    before = count()
    relogged = sh(repo, str(BIN / "python"), "-m", "pipeline", "relog")
    assert "sent 1 of 1 waiting runs" in relogged.stdout
    assert count() == before + 1


def test_a_stage_logs_to_a_real_mlflow_server(repo, tmp_path):
    from mlflow.tracking import MlflowClient

    with mlflow_server(tmp_path) as uri:
        result = sh(
            repo, str(BIN / "dvc"), "repro", "--force", "--single-item", "report", env={"MLFLOW_TRACKING_URI": uri}
        )
        assert stages_run(result.stdout) == {"report"} and "warning" not in result.stderr
        client = MlflowClient(tracking_uri=uri)
        runs = client.search_runs(
            [client.get_experiment_by_name("layerwise").experiment_id], "tags.`dvc.stage` = 'report'"
        )
        assert len(runs) == 1 and runs[0].data.metrics["test_accuracy_50_logistic_regression"] > 0.3
        # the files went through the server's artifact proxy
        assert sorted(artifact.path for artifact in client.list_artifacts(runs[0].info.run_id)) == [
            "index.html",
            "report.md",
        ]
        assert runs[0].data.tags["mlflow.source.git.commit"] == sh(repo, "git", "rev-parse", "HEAD").stdout.strip()
        assert client.get_run(runs[0].data.tags["mlflow.parentRunId"]).info.run_name.startswith("dvc repro ")


def test_second_repro_runs_nothing(repo):
    result = dvc(repo, "repro")
    assert stages_run(result.stdout) == set()
    assert "up to date" in result.stdout.lower() or "didn't change" in result.stdout


def test_a_classify_change_touches_no_pretrain_stack_or_chapter_stage(repo, tiny_idx):
    """What `dvc repro` would rerun, asked of `dvc status` (the same decision, without the training)."""
    params = tiny_params(tiny_idx)
    params["classify"]["propagation"]["learning_rate"] = 0.002
    write_params(repo, params)
    changed = set(json.loads(dvc(repo, "status", "--json").stdout))
    assert changed == {"validate", "report", "classify@propagation", "random-start@propagation"}


@pytest.mark.parametrize(
    ("layer_change", "random_starts_rerun"),
    [({"epochs": 4}, False), ({"units": 12}, True)],
    ids=["how-a-layer-pretrains", "what-the-encoder-is"],
)
def test_a_pretrain_change_reruns_the_pretrained_starts_and_never_the_graph(
    repo, tiny_idx, layer_change, random_starts_rerun
):
    """A real `dvc repro`: what only the images and labels feed (the graph, each budget's labels) is reused by DVC's
    own dependencies; the random starts rerun only when the encoder they copy changes its shape."""
    params = tiny_params(tiny_idx)
    params["pretrain"]["layers"]["l2"].update(layer_change)
    write_params(repo, params)
    ran = stages_run(dvc(repo, "repro").stdout)
    assert {"pretrain@l2", "stack", "features", "probe", "classify@supervised", "classify@propagation"} <= ran
    assert not {"graph", "labels", "pretrain@l1", "split", "baseline"} & ran
    random_starts = {"random-start@supervised", "random-start@propagation"}
    assert (random_starts <= ran) if random_starts_rerun else not (random_starts & ran)


def test_a_greedy_conv_stack_runs_through_every_stage_on_its_flat_codings(repo, tiny_idx):
    """A real `dvc repro` with both pretrain layers convolutional: each trains on the cached codings below, and the
    stack, the probe, the features, every recipe and its random start read the same flat rows as from dense layers."""
    params = tiny_params(tiny_idx)
    for name, filters in (("l1", 4), ("l2", 6)):
        params["pretrain"]["layers"][name].update(kind="conv", units=filters)
    write_params(repo, params)
    ran = stages_run(dvc(repo, "repro").stdout)
    assert {"pretrain@l1", "pretrain@l2", "stack", "features", "probe", "report"} <= ran
    assert {"classify@supervised", "random-start@supervised", "classify@propagation"} <= ran
    assert not {"graph", "labels"} & ran
    train = {name: np.load(repo / f"data/features/{name}/train.npy") for name in ("l1", "l2")}
    assert train["l1"].shape[1] == 14 * 14 * 4 and train["l2"].shape[1] == 7 * 7 * 6
    probe = json.loads((repo / "metrics/probe.json").read_text())
    assert probe["l2"]["50"]["draw_1"]["test_accuracy"] > 0.3
    accuracy = json.loads((repo / "metrics/classify/supervised-random.json").read_text())["50"]["random"]
    assert accuracy["test_accuracy_mean"] > 0.3
    assert "l2: 6 filters of 3x3, then a 2x2 max-pool, dropout noise 0.2" in (repo / "reports/report.md").read_text()


def test_a_graph_change_reruns_only_the_recipe_that_learns_from_the_graph(repo, tiny_idx):
    params = tiny_params(tiny_idx)
    params["classify"]["propagation"]["neighbours"] = 8
    write_params(repo, params)
    changed = set(json.loads(dvc(repo, "status", "--json").stdout))
    assert {"graph", "labels", "classify@propagation", "random-start@propagation"} <= changed
    ran = stages_run(dvc(repo, "repro").stdout)
    assert {"graph", "labels", "classify@propagation", "random-start@propagation"} <= ran
    assert not {"classify@supervised", "random-start@supervised"} & ran, "their labelled draws did not change"


def test_one_label_draw_still_runs_and_the_report_says_no_interval_can_be_given(repo, tiny_idx):
    copy = repo
    params = tiny_params(tiny_idx)
    params["split"]["draws"] = 1
    write_params(copy, params)
    ran = stages_run(dvc(copy, "repro").stdout)
    assert {"split", "baseline", "report", "labels", "classify@supervised", "classify@propagation"} <= ran
    assert not {"pretrain@l1", "pretrain@l2", "stack"} & ran, "the images and their codings did not change"
    markdown = (copy / "reports/report.md").read_text()
    assert "(1 draw)" in markdown and "no interval can be given" in markdown and "beats logistic" not in markdown
    fewlabel = pd.read_csv(copy / "reports/fewlabel.csv")
    assert fewlabel.draws.eq(1).all() and fewlabel.sd_accuracy.isna().all() and fewlabel.diff_vs_pixels_low.isna().all()
    metrics = json.loads((copy / "metrics/classify/supervised.json").read_text())["20"]
    assert metrics["pretrained"]["test_accuracy_sd"] is None and "draw_2" not in metrics["pretrained"]


def test_bad_params_stop_with_one_line_and_touch_nothing(repo, tiny_idx):
    before = lock_hashes(repo)
    model = (repo / "models/stack/l1/encoder_kernel.npy").read_bytes()
    params = tiny_params(tiny_idx)
    params["classify"]["supervised"]["learning_rate"] = 0.002
    params["pretrain"]["layers"]["l2"]["units"] = -5
    write_params(repo, params)
    result = dvc(repo, "repro", check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: params.yaml")]
    assert errors == ["error: params.yaml: pretrain.layers.l2.units: got -5, must be greater than 0"]
    assert stages_run(result.stdout) == {"validate"}
    assert lock_hashes(repo) == before
    assert (repo / "models/stack/l1/encoder_kernel.npy").read_bytes() == model


def test_budget_a_class_cannot_fill_keeps_the_previous_split(repo, tiny_idx):
    before = lock_hashes(repo)
    table = (repo / "data/split.csv").read_bytes()
    params = tiny_params(tiny_idx)
    params["split"]["budgets"] = [20, 600]
    write_params(repo, params)
    result = dvc(repo, "repro", check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: split.budgets: got 600, needs 60 labelled images of class 0, "
        "which has only 50 outside the validation set"
    ]
    assert (repo / "data/split.csv").read_bytes() == table
    assert (repo / "data/features/pixels/train.npy").exists()
    assert lock_hashes(repo) == before


def test_a_chapter_technique_is_one_dvc_exp_run_away(repo):
    result = dvc(repo, "exp", "run", "-n", "sparser", "-S", "chapter.sparsity.kl_weight=0.5")
    assert stages_run(result.stdout) == {"validate", "chapter@sparsity", "report"}
    states = experiments(repo)
    assert states["sparser"]["params"]["params.yaml"]["data"]["chapter"]["sparsity"]["kl_weight"] == 0.5
    assert states["sparser"]["metrics"]["reports/summary.json"]["data"]["accuracy"]["20"]["supervised"] > 0
    assert "weight 0.5" in (repo / "reports/report.md").read_text()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("layerwise").experiment_id
    tagged = client.search_runs([experiment], "tags.`dvc.experiment` = 'sparser'", max_results=100)
    stage_runs = [run for run in tagged if "dvc.stage" in run.data.tags]
    assert {run.info.run_name for run in stage_runs} == {"validate", "chapter@sparsity", "report"}
    parent = client.get_run(stage_runs[0].data.tags["mlflow.parentRunId"])
    assert parent.info.run_name == "dvc exp run sparser"
    assert {run.data.tags["mlflow.parentRunId"] for run in stage_runs} == {parent.info.run_id}


def interrupt_when(repo: Path, checkpoint: str, signal_number: int, log: Path) -> None:
    """Start `dvc repro stack` as a terminal would (own process group); once ``checkpoint`` holds a finished
    epoch, freeze the whole group, then deliver ``signal_number`` to every process in it (dvc and the stage)."""
    state = repo / ".checkpoints" / checkpoint / "state.json"
    with log.open("w") as output:
        # A terminal's Ctrl-C reaches processes that do not ignore SIGINT; a test runner started in the background
        # ignores it, and its children would inherit that.
        process = subprocess.Popen(
            [str(BIN / "dvc"), "repro", "stack"],
            cwd=repo,
            env=clean_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 300
        while not state.exists():
            assert process.poll() is None, (
                f"dvc repro ended before {checkpoint} checkpointed:\n{log.read_text()[-3000:]}"
            )
            assert time.monotonic() < deadline, f"no checkpoint for {checkpoint}"
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGSTOP)
        assert state.exists(), "caught between epochs, before the stage finished"
        os.killpg(process.pid, signal_number)
        os.killpg(process.pid, signal.SIGCONT)
        assert process.wait(timeout=120) != 0


def test_killed_and_interrupted_stages_resume_to_the_same_bytes_in_a_fresh_clone(repo, tmp_path):
    """SIGKILL during pretrain@l1, Ctrl-C during the stack's fine-tuning, then `dvc repro stack` again: a fresh
    clone ends with every output hash of the uninterrupted first run. The clone has no cache, so every stage up
    to the stack runs again: this is also the check that two runs on one machine give the same bytes (the
    chapter stages' own check is in test_chapter.py)."""
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))

    interrupt_when(clone, "pretrain@l1", signal.SIGKILL, tmp_path / "killed.log")
    status = dvc(clone, "status").stdout
    assert "pretrain@l1" in status and not (clone / "metrics/pretrain/l1.json").exists()

    interrupt_when(clone, "stack", signal.SIGINT, tmp_path / "ctrl_c.log")
    second = (tmp_path / "ctrl_c.log").read_text()
    assert ".checkpoints/pretrain@l1: resuming after epoch" in second
    assert "stack" in dvc(clone, "status").stdout and not (clone / "metrics/stack.json").exists()

    last = dvc(clone, "repro", "stack")
    assert ".checkpoints/stack: resuming after epoch" in last.stdout + last.stderr
    first_run = json.loads((repo / "first_run_hashes.json").read_text())
    resumed = lock_hashes(clone)
    assert {"data/prepared", "data/features/l1", "models/pretrain/l2", "models/stack", "data/reconstructions"} <= set(
        resumed
    )
    assert resumed == {path: first_run[path] for path in resumed}
    assert not list((clone / ".checkpoints").iterdir()), "finished stages drop their checkpoints"
    leftovers = [path for path in clone.rglob(".*.tmp")] + [path for path in clone.rglob(".*.old")]
    assert not leftovers


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ("pretrain.layers.l1.units=0", "error: params.yaml: pretrain.layers.l1.units: got 0, must be greater than 0"),
        (
            "+stack.finetune_epoch=3",
            "error: params.yaml: stack.finetune_epoch: unknown key, allowed here: "
            "finetune_epochs, batch_size, learning_rate (check the spelling)",
        ),
    ],
)
def test_dvc_exp_run_set_params_are_validated_first(repo, override, error):
    before = lock_hashes(repo)
    result = dvc(repo, "exp", "run", "-S", override, check=False)
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith("error: params")] == [error]
    assert stages_run(result.stdout) == {"validate"}
    assert lock_hashes(repo) == before


QUEUED = {"c-small": 0.25, "c-large": 4.0}


def test_queued_experiments_run_two_at_a_time_and_every_stage_run_reaches_mlflow(repo):
    from mlflow.tracking import MlflowClient

    for name, c in QUEUED.items():
        dvc(repo, "exp", "run", "--queue", "-n", name, "-S", f"baseline.C={c}")
    dvc(repo, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 900
    while re.search(r"\b(Queued|Running)\b", status := dvc(repo, "queue", "status").stdout):
        assert time.monotonic() < deadline, status
        time.sleep(2)
    for name in QUEUED:
        assert re.search(rf"{name}\s.*Success", status), status
        assert "database is locked" not in dvc(repo, "queue", "logs", name).stdout.lower()

    states = experiments(repo)
    for name, c in QUEUED.items():
        assert states[name]["params"]["params.yaml"]["data"]["baseline"]["C"] == c
        assert states[name]["metrics"]["reports/summary.json"]["data"]["accuracy"]["20"]["logistic_regression"] > 0

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("layerwise").experiment_id
    for name in QUEUED:
        runs = client.search_runs([experiment], f"tags.`dvc.experiment` = '{name}'", max_results=100)
        stage_runs = [run for run in runs if "dvc.stage" in run.data.tags]
        assert sorted(run.info.run_name for run in stage_runs) == ["baseline", "probe", "report", "validate"], name
        parents = {run.data.tags["mlflow.parentRunId"] for run in stage_runs}
        assert [client.get_run(parent).info.run_name for parent in parents] == [f"dvc exp run {name}"]
    assert not list((repo / ".mlflow-pending").glob("*/run.json")), "no run lost or left waiting"


def test_compare_two_experiments_side_by_side(repo):
    for name, c in QUEUED.items():
        dvc(repo, "exp", "run", "-n", name, "-S", f"baseline.C={c}")
    result = sh(repo, str(BIN / "python"), "-m", "pipeline", "compare", "c-small", "c-large", "-o", "comparison")
    assert "wrote" in result.stdout
    markdown = (repo / "comparison/compare.md").read_text()
    assert "| baseline.C | 0.25 | 4.0 |" in markdown
    assert re.search(r"\| accuracy\.20\.logistic\\_regression \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \|", markdown), markdown
    assert re.search(
        r"\| 20 \| logistic\\_regression \| False \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \| [+-][\d.]+ \| "
        r"(within the noise|exceeds the noise \((up|down)\)) \|",
        markdown,
    ), markdown
    assert re.search(
        r"\| 20 \| nearest\\_neighbours\\_on\\_l2 \| True \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \|", markdown
    )
    figures = [
        "accuracy_vs_labels",
        "learning_curves",
        "reconstructions",
        *(f"chapter_{technique.name}" for technique in TECHNIQUES),
    ]
    assert sorted(path.name for path in (repo / "comparison/figures").iterdir()) == sorted(
        f"{index}-{name}.png" for index in (0, 1) for name in figures
    )
    page = (repo / "comparison/index.html").read_text()
    assert page.count("data:image/png;base64,") == 2 * len(figures) and "<td>baseline.C</td>" in page
    refused = sh(repo, str(BIN / "python"), "-m", "pipeline", "compare", "c-small", "no-such-exp", check=False)
    assert refused.returncode == 2 and "error: compare: 'no-such-exp' is neither" in refused.stderr


def test_push_then_pull_gives_a_second_clone_the_same_report_and_a_site_without_retraining(repo, tmp_path):
    dvc(repo, "remote", "add", "--default", "storage", str(tmp_path / "remote"))
    commit_all(repo, "remote")
    dvc(repo, "push")

    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    dvc(clone, "pull")
    assert stages_run(dvc(clone, "repro").stdout) == set(), "everything came from the remote"
    for output in ("reports/index.html", "reports/report.md", "models/stack/l1/encoder_kernel.npy"):
        assert (clone / output).read_bytes() == (repo / output).read_bytes(), output

    published = sh(clone, str(BIN / "python"), "-m", "pipeline", "publish")
    assert "published report/index.html, plots/index.html in public/" in published.stdout
    assert (clone / "public/report/index.html").read_bytes() == (repo / "reports/index.html").read_bytes()
    assert "Test accuracy against labels" in (clone / "public/plots/index.html").read_text()
    assert 'href="report/index.html"' in (clone / "public/index.html").read_text()


def test_two_machines_share_one_git_remote_one_dvc_remote_and_one_mlflow_server(repo, tmp_path):
    """Machine A (this copy) and machine B (a clone) each run an experiment, push it, pull the other's, and see both
    side by side in `dvc exp show`; both logged to the same MLflow tracking server."""
    from mlflow.tracking import MlflowClient

    origin, storage = tmp_path / "origin.git", tmp_path / "dvc-storage"
    sh(tmp_path, "git", "init", "-q", "--bare", str(origin))
    sh(repo, "git", "remote", "add", "origin", str(origin))
    dvc(repo, "remote", "add", "--default", "storage", str(storage))
    commit_all(repo, "shared remotes")
    sh(repo, "git", "push", "-q", "origin", "HEAD:master")
    dvc(repo, "push")
    machine_b = tmp_path / "machine_b"
    sh(tmp_path, "git", "clone", "-q", str(origin), str(machine_b))
    dvc(machine_b, "pull")

    with mlflow_server(tmp_path) as uri:
        tracking = {"MLFLOW_TRACKING_URI": uri}
        for machine, name, c in ((repo, "from-a", 0.5), (machine_b, "from-b", 2.0)):
            ran = sh(machine, str(BIN / "dvc"), "exp", "run", "-n", name, "-S", f"baseline.C={c}", env=tracking)
            assert stages_run(ran.stdout) == {"validate", "baseline", "probe", "report"}, "the rest came from dvc pull"
            dvc(machine, "exp", "push", "origin", name)
        dvc(repo, "exp", "pull", "origin", "from-b")
        dvc(machine_b, "exp", "pull", "origin", "from-a")
        for machine in (repo, machine_b):
            states = experiments(machine)
            assert {
                name: states[name]["params"]["params.yaml"]["data"]["baseline"]["C"] for name in ("from-a", "from-b")
            } == {"from-a": 0.5, "from-b": 2.0}
        dvc(repo, "exp", "apply", "from-b")  # machine B's results, outputs included, on machine A
        assert "baseline.C" not in dvc(repo, "params", "diff", "from-b").stdout

        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("layerwise").experiment_id
        for name in ("from-a", "from-b"):
            runs = client.search_runs([experiment], f"tags.`dvc.experiment` = '{name}'", max_results=100)
            assert sorted(run.info.run_name for run in runs if "dvc.stage" in run.data.tags) == [
                "baseline",
                "probe",
                "report",
                "validate",
            ], name


def test_a_stage_trains_on_two_workers_and_only_the_chief_writes_its_dvc_outputs(repo, tmp_path):
    """docs/scaling.md's recipe, on streamed shards: the chief runs the stage through DVC, a worker runs the stage
    script in its own copy of the project (another machine's clone, same data); both join one
    MultiWorkerMirroredStrategy, and both take part in every step, the codings' predictions included."""
    from pipeline.runtime.shards import Sharded
    from tests.conftest import free_port

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["split"]["shard_rows"] = 200
    params["train"]["input"] = "stream"
    # no input noise: each replica draws its own dropout masks, so a noisy curve would not follow one device's
    params["pretrain"]["layers"]["l1"]["noise"] = "none"
    write_params(repo, params)
    dvc(repo, "repro", "pretrain@l1")  # split writes shards; pretrain@l1 streams them on one device
    single = json.loads((repo / "metrics/pretrain/l1.json").read_text())
    params["train"]["strategy"] = "multi_worker"
    write_params(repo, params)
    worker_copy = tmp_path / "worker"
    shutil.copytree(repo, worker_copy, symlinks=True)
    before = lock_hashes(worker_copy)
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    commands = [
        (repo, [str(BIN / "dvc"), "repro", "-s", "pretrain@l1"]),
        (worker_copy, [sys.executable, "-m", "stages.pretrain", "l1"]),
    ]
    started = []
    for index, (folder, command) in enumerate(commands):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        started.append(
            subprocess.Popen(
                command,
                cwd=folder,
                env={**clean_env(), "TF_CONFIG": tf_config},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = [process.communicate(timeout=600)[0] for process in started]
    assert [process.returncode for process in started] == [0, 0], "\n".join(log[-3000:] for log in logs)
    assert "Running stage 'pretrain@l1'" in logs[0]
    assert dvc(repo, "status", "pretrain@l1", "-q", check=False).returncode == 0, "the chief's outputs are recorded"
    two_workers = json.loads((repo / "metrics/pretrain/l1.json").read_text())
    for name in ("train_mse", "valid_mse", "test_mse"):
        assert abs(two_workers[name] - single[name]) <= 0.01 * single[name], (name, single, two_workers)
    codings = Sharded.open(repo / "data/features/l1", "train")
    assert codings.is_folder and len(codings.shards) == 3, "the codings mirror the 200-row shards"
    assert lock_hashes(worker_copy) == before and not (worker_copy / ".checkpoints" / "pretrain@l1").exists()


def test_the_chapter_stages_train_under_a_strategy_and_from_streamed_shards(repo):
    """The chapter's training stages take train.strategy (features, which trains no network, runs on one device
    and says so); those whose technique can, stream train.input's shards (PCA's optimum incrementally); phases,
    which holds every image's codings, loads them whole and says so."""

    def chapter_metrics(technique: str) -> dict:
        return json.loads((repo / f"metrics/chapter/{technique}.json").read_text())

    def close(ran: dict, single: dict, names, tolerance: float) -> None:
        for name in names:
            assert abs(ran[name] - single[name]) <= tolerance * abs(single[name]), (name, ran[name], single[name])

    single = {name: chapter_metrics(name) for name in ("tied", "vae", "linear_pca", "features")}
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(strategy="mirrored", cpu_devices=2)
    write_params(repo, params)
    ran = dvc(repo, "repro", "-s", "chapter@tied", "chapter@vae", "features")
    assert stages_run(ran.stdout) == {"chapter@tied", "chapter@vae", "features"}
    assert "features: trains on one device (train.strategy mirrored is not used)" in ran.stdout
    close(chapter_metrics("tied"), single["tied"], ["untied_valid_mse", "tied_test_mse"], 1e-3)
    close(chapter_metrics("vae"), single["vae"], ["valid_mse", "test_mse"], 0.05)  # its noise drawn per replica
    assert chapter_metrics("features") == single["features"]

    params["train"].update(strategy="default", cpu_devices=1, input="stream")
    params["split"]["shard_rows"] = 200
    write_params(repo, params)
    ran = dvc(repo, "repro", "-s", "split", "chapter@linear_pca", "chapter@phases")
    assert (repo / "data/features/pixels/train/00000.npy").exists()
    assert "phases: loads its training images whole (train.input stream is not used)" in ran.stdout
    streamed = chapter_metrics("linear_pca")
    # the same model and data in another batch order; the incremental PCA within 1 % of the exact optimum
    close(streamed, single["linear_pca"], ["images_train_pca_mse", "images_test_pca_mse"], 0.01)
    close(streamed, single["linear_pca"], ["images_test_autoencoder_mse"], 0.05)
    assert streamed["images_train_mse_ratio"] >= 1 - 1e-6, "no linear code beats PCA's on its training data"

"""A stage started by a `python3` without the pinned packages (DVC from a shell where .venv is not active) runs
under the project's .venv, or stops with one line saying how to make one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SYSTEM_PATH = os.pathsep.join(
    part
    for part in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    if not Path(part).resolve().is_relative_to(Path(sys.prefix).resolve())  # the virtual environment's bin/
)


@pytest.fixture
def bare_python3() -> str:
    python3 = shutil.which("python3", path=SYSTEM_PATH)
    if python3 is None:
        pytest.skip("no python3 outside the virtual environment")
    if subprocess.run([python3, "-c", "import pandas, pydantic, mlflow"], capture_output=True).returncode == 0:
        pytest.skip(f"{python3} has the packages itself")
    return python3


def project_copy(folder: Path, with_venv: bool) -> Path:
    for name in ("pipeline", "stages"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("params.yaml", "environment.env"):
        shutil.copy(ROOT / name, folder / name)
    if with_venv:
        (folder / ".venv").symlink_to(Path(sys.prefix))
    return folder


def run_stage(python3: str, folder: Path) -> subprocess.CompletedProcess:
    env = {"PATH": SYSTEM_PATH, "HOME": os.environ.get("HOME", "/tmp"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run([python3, "-m", "stages.validate"], cwd=folder, env=env, capture_output=True, text=True)


def test_a_stage_started_outside_the_environment_runs_in_the_projects_venv(bare_python3, tmp_path):
    folder = project_copy(tmp_path, with_venv=True)
    result = run_stage(bare_python3, folder)
    assert result.returncode == 0, result.stderr
    assert (folder / "data/params.schema.json").is_file()


def test_without_a_venv_the_stage_says_how_to_make_one(bare_python3, tmp_path):
    result = run_stage(bare_python3, project_copy(tmp_path, with_venv=False))
    assert result.returncode == 1 and result.stdout == ""
    assert re.match(r"error: \S*python3\S* has no [a-z, ]+: run `make setup`", result.stderr), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_tensorflow_imports_without_its_start_up_chatter_and_other_stderr_passes():
    """A stage's process (stages/__init__.py applies the environment) imports TensorFlow through Keras and runs an
    op: none of TensorFlow's start-up lines reach stderr, while the process's own stderr lines still do, in order."""
    script = (
        "import sys, stages, keras, tensorflow as tf\n"
        "print('before', file=sys.stderr, flush=True)\n"
        "tf.constant(1.0) + 1\n"
        "import os; os.write(2, b'written by C\\n')\n"
        "print('after', file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stderr.splitlines() == ["before", "written by C", "after"], run.stderr
    loud = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.constant(1.0) + 1"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert "oneDNN" in loud.stderr or "cuInit" in loud.stderr, "without the filter the chatter is there"


def test_tensorflow_s_retracing_warning_is_dropped_and_its_other_warnings_pass():
    script = (
        "import stages, tensorflow as tf\n"
        "for size in range(1, 9):\n"
        "    tf.function(lambda x: x * 2)(tf.ones([size]))\n"  # a new function each time: retraced every call
        "tf.get_logger().warning('a real warning')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stderr.splitlines() == ["WARNING:tensorflow:a real warning"], run.stderr
    loud = subprocess.run(
        [sys.executable, "-c", script.replace("import stages, ", "import ")], capture_output=True, text=True, check=True
    )
    assert "triggered tf.function retracing" in loud.stderr, "without the filter the warning is there"


def test_the_chatter_filter_passes_every_other_line_through_a_failed_import():
    script = (
        "import os, sys\n"
        "from pipeline.runtime.environment import without_chatter\n"
        "try:\n"
        "    with without_chatter():\n"
        "        os.write(2, b'I0000 00:00:1.5 42 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "        os.write(2, b'a real warning\\n')\n"
        "        raise ImportError('broken')\n"
        "except ImportError as error:\n"
        "    print(error, file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stderr.splitlines() == ["a real warning", "broken"]

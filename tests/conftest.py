"""Shared fixtures: tiny generated IDX data and tiny params, small enough for real training in seconds."""

from __future__ import annotations

import contextlib
import copy
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.data.idx import write_idx_directory
from pipeline.data.synthetic import make_dataset
from pipeline.runtime import environment

ROOT = Path(__file__).resolve().parents[1]
environment.apply()  # the project's environment variables (environment.env), as every stage sets them


def default_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def tiny_params(idx_dir: Path) -> dict:
    """The shipped params.yaml with everything shrunk: same keys, tiny sizes."""
    params = copy.deepcopy(default_params())
    params["data"].update(idx_dir=str(idx_dir), name="custom", class_names=[f"class <{i}>" for i in range(10)])
    params["split"].update(budgets=[20, 50], validation_size=100, draws=2)
    layers = params["pretrain"]["layers"]
    layers["l1"].update(units=32, epochs=3, batch_size=32)
    layers["l2"].update(units=16, epochs=3, batch_size=32)
    params["stack"].update(finetune_epochs=2, batch_size=32)
    params["report"].update(reconstructions=4)
    # frozen and autoencoder are covered by tests/test_fewlabel.py; two recipes keep the matrix real, the suite short.
    classify = params["classify"]
    classify["recipes"] = classify["random_start"] = ["supervised", "propagation"]
    classify["supervised"].update(steps=60, batch_size=16)
    classify["propagation"].update(neighbours=10, epochs=3, batch_size=32, flip=False)
    classify["propagation"]["patches"].update(centroids=32, dims=16)
    params["baseline"].update(max_iter=200)
    tiny = {"epochs": 1, "batch_size": 64}  # the stages' wiring; tests/test_chapter.py checks what they learn
    chapter = params["chapter"]
    chapter["linear_pca"].update(codings=4, synthetic_points=100, synthetic_epochs=5, **tiny)
    chapter["tied"].update(units=[16, 8], **tiny)
    chapter["phases"].update(units=[16, 8], joint_epochs=1, **tiny)
    chapter["denoising"].update(units=[16, 8], overcomplete_units=800, **tiny)
    chapter["sparsity"].update(units=[16, 32], **tiny)
    params["features"].update(neurons=3, top_images=2, ascent_steps=10)
    chapter["vae"].update(units=[16, 8], codings=2, grid=2, walk_steps=3, **tiny)
    chapter["conv"].update(filters=[4, 8], codings=8, **tiny)
    return params


@pytest.fixture(scope="session")
def tiny_idx(tmp_path_factory) -> Path:
    # Markup in a parameter value (this folder's name reaches the report through data.idx_dir) must come out escaped.
    directory = tmp_path_factory.mktemp("tiny_idx") / "idx <b>&amp;"
    write_idx_directory(directory, make_dataset(train_count=600, test_count=200, seed=0))
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(folder: Path):
    """A real `mlflow server` on 127.0.0.1 with its store in ``folder``; yields its URI once /health answers."""
    import requests

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "served"),
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=30)

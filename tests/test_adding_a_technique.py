"""The README's worked example, built from the README itself: a technique is its folder and its params block.

In a copy of the project, the example's four files and params block make a technique the schema knows, DVC runs as
`chapter@codings` (depending on its own train.py) and the report renders, with nothing else edited.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import yaml

from pipeline.runtime import environment
from tests.conftest import ROOT

FILES = ("__init__.py", "train.py", "report.py", "section.md.j2")


def readme_example() -> tuple[dict[str, str], str]:
    """The example's files (name -> text) and its params block, as the README shows them."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Adding a technique") :]
    blocks = []  # (the path named first in the paragraph before a fenced block, the block's text)
    for fence in re.finditer(r"```\w+\n(.*?)```", section, re.S):
        paragraph = section[: fence.start()].rstrip().rsplit("\n\n", 1)[-1]
        blocks.append((re.search(r"`([^`]+)`", paragraph).group(1), fence.group(1)))
    files = {Path(path).name: text for path, text in blocks if path.startswith("pipeline/chapter/codings/")}
    params = next(text for path, text in blocks if path == "params.yaml")
    assert sorted(files) == sorted(FILES)
    return files, params


def test_the_readmes_new_technique_is_its_folder_and_its_params_block(tmp_path):
    files, block = readme_example()
    project = tmp_path / "project"
    for name in ("pipeline", "stages", ".dvc"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__", "cache", "tmp"))
    for name in ("dvc.yaml", "environment.env"):
        shutil.copy(ROOT / name, project / name)
    folder = project / "pipeline/chapter/codings"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["chapter"].update(yaml.safe_load(textwrap.dedent(block)))
    params["chapter"]["codings"].update(sizes=[4, 16], epochs=1)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rng = np.random.default_rng(0)
    pixels = project / "data/features/pixels"
    pixels.mkdir(parents=True)
    for subset, count in (("train", 64), ("valid", 16), ("test", 16)):
        np.save(pixels / f"{subset}.npy", rng.random((count, 784), dtype=np.float32))
    env = {
        **environment.variables(),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DVC_NO_ANALYTICS": "1",
    }

    def run(*command: str) -> str:
        result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    run("git", "init", "-q")
    stages = run(str(Path(sys.executable).parent / "dvc"), "stage", "list", "--name-only").split()
    assert "chapter@codings" in stages
    run(sys.executable, "-m", "stages.chapter", "codings")
    metrics = json.loads((project / "metrics/chapter/codings.json").read_text())
    assert set(metrics) == {"4_valid_mse", "4_test_mse", "16_valid_mse", "16_test_mse"}
    section = run(
        sys.executable,
        "-c",
        """
from pipeline import config
from pipeline.runtime import io, paths
from pipeline.chapter import TECHNIQUES, technique
from pipeline.report.figures import png_bytes
from pipeline.report.render import environment
import pandas as pd
params, codings = config.load(), technique("codings")
assert TECHNIQUES[-1] is codings and codings.title == "How many codings" and codings.stage == "chapter@codings"
metrics = io.read_json(paths.chapter_metrics("codings"))
table = codings.report().table(metrics, params, {"codings": metrics})
figure = codings.report().figure(io.read_array_folder(paths.chapter_arrays("codings")), metrics,
                                 pd.read_csv(paths.chapter_history("codings")))
assert list(table["model"]) == ["4 codings", "16 codings"] and png_bytes(figure)[:4] == b"\\x89PNG"
print(environment().get_template("codings/section.md.j2").render(
    m=metrics, p=codings.params_of(params), params=params, chapter={"codings": metrics}, book=None))
""",
    )
    assert section.startswith("The fewer the codings, the more an autoencoder must leave out: with 4, 16 codings")
    assert section.rstrip().endswith("reconstructed from each number of codings.")

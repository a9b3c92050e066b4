"""`python -m pipeline compare` and `publish` against a tiny git + DVC repository of their own.

The repository's one stage is a few lines of Python (no TensorFlow): it writes two metrics files that share a key,
a plots CSV, a report, a DVC-tracked figure and the few-label summary, all from params.yaml. Two real
`dvc exp run -S` experiments are made once per module; each test works on its own copy of that repository.
The checks that need a browser skip where no Chromium is installed (CI has none).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markupsafe import escape

from pipeline.report.tables import markdown_escape

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHECK_SITE = ROOT / "scripts" / "check-site-offline.py"

STAGE = """\
import json, pathlib, struct, zlib
import yaml

params = yaml.safe_load(open("params.yaml"))["train"]
rate, epochs = params["rate"], params["epochs"]
for folder in ("metrics", "plots", "reports/figures"):
    pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
json.dump({"loss": rate / 2, "20": {"acc": rate}}, open("metrics/train.json", "w"))
json.dump({"loss": rate / 3, "size": epochs}, open("metrics/eval.json", "w"))
open("plots/curve.csv", "w").write("epoch,loss\\n" + "".join(f"{e},{rate / (e + 1)}\\n" for e in range(epochs)))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
pathlib.Path("reports/figures/curve.png").write_bytes(  # one grey pixel, its shade from the rate
    b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(bytes([0, int(rate * 50) % 256]))) + chunk(b"IEND", b""))
open("reports/fewlabel.csv", "w").write(
    f"budget,recipe,pretrained,draws,mean_accuracy,sd_accuracy\\n20,supervised,True,3,{rate},0.01\\n")
open("reports/index.html", "w").write("<!DOCTYPE html><html><body><h1>Report</h1></body></html>")
open("reports/report.md", "w").write("# Report\\n")
"""

DVC_YAML = """\
stages:
  train:
    cmd: python stage.py
    deps: [stage.py]
    params: [train]
    outs:
      - reports/figures
      - reports/index.html
      - reports/report.md:
          cache: false
      - reports/fewlabel.csv:
          cache: false
    metrics:
      - metrics/train.json:
          cache: false
      - metrics/eval.json:
          cache: false
    plots:
      - plots/curve.csv:
          cache: false
          x: epoch
          y: loss
plots:
  - Loss against epochs:
      template: linear
      x: epoch
      y:
        plots/curve.csv: [loss]
"""


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DVC_", "MLFLOW_TRACKING"))}
    env.update(PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}", PYTHONPATH=str(ROOT), DVC_NO_ANALYTICS="1")
    return env


def run(repo: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, cwd=repo, env=environment(), capture_output=True, text=True, timeout=300, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def pipeline(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(repo, str(BIN / "python"), "-m", "pipeline", *args, check=check)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A committed baseline (train.rate 0.5) and experiments 'small' (0.25) and 'large' (4.0); the workspace
    holds 'large', as `dvc exp run` leaves it."""
    repo = tmp_path_factory.mktemp("experiments") / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text("train:\n  rate: 0.5\n  epochs: 3\n")
    (repo / "stage.py").write_text(STAGE)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    run(repo, "git", "init", "-q")
    run(repo, "git", "config", "user.name", "test")
    run(repo, "git", "config", "user.email", "test@example.com")
    run(repo, str(BIN / "dvc"), "init", "-q")
    run(repo, str(BIN / "dvc"), "repro", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "baseline")
    for name, rate in (("small", "0.25"), ("large", "4.0")):
        run(repo, str(BIN / "dvc"), "exp", "run", "-q", "-n", name, "-S", f"train.rate={rate}")
    return repo


@pytest.fixture
def repo(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(built, copy, symlinks=True)
    return copy


# --- compare ---------------------------------------------------------------------------------------------------


def test_compare_two_experiments_side_by_side(repo):
    result = pipeline(repo, "compare", "small", "large", "-o", "comparison")
    assert "wrote" in result.stdout
    markdown = (repo / "comparison/compare.md").read_text()
    assert "| train.rate | 0.25 | 4.0 |" in markdown
    assert "train.epochs" not in markdown, "only the params that differ"
    # every metric `dvc metrics show` has, named as `dvc exp show` names it: the file in front of a shared key
    assert "| 20.acc | 0.25000 | 4.00000 | +3.75000 |" in markdown
    assert "| metrics/train.json:loss | 0.12500 | 2.00000 | +1.87500 |" in markdown
    assert "| metrics/eval.json:loss | 0.08333 | 1.33333 | +1.25000 |" in markdown
    assert "| size | 3 | 3 | +0.00000 |" in markdown
    assert re.search(
        r"\| 20 \| supervised \| True \| 0\.2500 ± 0\.0100 \| 4\.0000 ± 0\.0100 \| \+3\.7500 \| "
        r"exceeds the noise \(up\) \|",
        markdown,
    ), markdown
    assert sorted(path.name for path in (repo / "comparison/figures").iterdir()) == ["0-curve.png", "1-curve.png"]
    assert "![Curve, small](figures/0-curve.png)" in markdown
    page = (repo / "comparison/index.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "<td>train.rate</td>" in page


def test_compare_a_git_revision_with_the_workspace(repo):
    pipeline(repo, "compare", "HEAD", "workspace", "-o", "comparison")
    markdown = (repo / "comparison/compare.md").read_text()
    assert markdown.startswith("# Comparison: HEAD (") and ", workspace\n" in markdown.splitlines()[0] + "\n"
    assert "| train.rate | 0.5 | 4.0 |" in markdown
    assert "| 20.acc | 0.50000 | 4.00000 | +3.50000 |" in markdown


def test_compare_finds_experiments_made_on_an_older_commit(repo):
    (repo / "notes.txt").write_text("a commit after the experiments\n")
    run(repo, "git", "add", "notes.txt")
    run(repo, "git", "commit", "-qm", "notes")
    pipeline(repo, "compare", "large", "small", "-o", "comparison")
    assert "| train.rate | 4.0 | 0.25 |" in (repo / "comparison/compare.md").read_text()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["small", "no-such-exp"],
            ("error: compare: 'no-such-exp' is neither a git revision nor a DVC experiment (see `dvc exp list`)"),
        ),
        (["small"], "error: compare: give two or more git revisions or DVC experiments (or 'workspace')"),
        (["small", "small"], "error: compare: 'small' is given twice"),
    ],
)
def test_compare_refuses_bad_input_in_one_line(repo, arguments, message):
    refused = pipeline(repo, "compare", *arguments, "-o", "comparison", check=False)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip() == message
    assert not (repo / "comparison").exists()


def test_compare_says_which_revision_lacks_a_metrics_file(repo):
    run(repo, "git", "rm", "-q", "--cached", "metrics/eval.json")  # still in the workspace, not in the new HEAD
    run(repo, "git", "commit", "-qm", "metrics/eval.json untracked")
    refused = pipeline(repo, "compare", "small", "HEAD", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: compare: HEAD has no metrics/eval.json; run `dvc repro` there (or `dvc pull`) first"
    )


def test_compare_says_when_the_workspace_lacks_a_metrics_file(repo):
    # dvc.api reads the workspace's metrics along with every revision's: the workspace is named, not 'small'
    (repo / "metrics/eval.json").unlink()
    refused = pipeline(repo, "compare", "small", "large", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: compare: the workspace has no metrics/eval.json; run `dvc repro` there (or `dvc pull`) first"
    )


# --- a clone without the committed run's DVC cache -------------------------------------------------------------

FROM_ANOTHER_MACHINE = (
    "`dvc pull` at HEAD brings it from the DVC remote its maker pushed to; "
    "`dvc repro train` at HEAD makes this machine's own"
)


@pytest.fixture
def clone(repo: Path, tmp_path: Path) -> Path:
    """A fresh `git clone`, DVC cache empty and no DVC remote, of a commit whose reports/figures was made on
    another machine: the committed run of the README, which a user clones and then runs `make run` on.

    The other machine is the copied repository, whose workspace (experiment 'large') is committed as the run: its
    figure is given other bytes (what another CPU's floating point gives a rendered figure) and recorded with
    `dvc commit`, so HEAD's dvc.lock names a reports/figures that only that repository's cache holds. Each test
    decides whether the clone reproduces (a few seconds: the stage is a few lines of Python)."""
    figure = repo / "reports/figures/curve.png"
    figure.write_bytes(figure.read_bytes() + b"made elsewhere")  # after IEND: the same picture, other bytes
    run(repo, str(BIN / "dvc"), "commit", "-q", "-f", "train")
    run(repo, "git", "commit", "-qam", "the committed run, made on another machine")
    run(tmp_path, "git", "clone", "-q", str(repo), "clone")
    return tmp_path / "clone"


def test_compare_and_publish_in_a_reproduced_clone_leave_out_only_heads_figures(clone):
    """After `make run` on a fresh clone: `dvc repro` reran the stage here, so every output whose bytes came out
    the same is in this machine's cache under the hash HEAD records, but HEAD's reports/figures, made elsewhere,
    is not (the bug: a traceback ending in DataIndexDirError, exit 1)."""
    run(clone, str(BIN / "dvc"), "repro", "-q")
    compared = pipeline(clone, "compare", "HEAD", "workspace", check=False)
    assert compared.returncode == 0, compared.stderr
    missing = f"HEAD's reports/figures is not in this machine's DVC cache, left out: {FROM_ANOTHER_MACHINE}"
    assert compared.stderr.strip() == f"compare: {missing}"
    markdown = (clone / "reports/compare/compare.md").read_text()
    assert "None: every parameter is the same." in markdown
    assert "| 20.acc | 4.00000 | 4.00000 | +0.00000 |" in markdown, "git-tracked metrics need no cache"
    assert "| 20 | supervised | True | 4.0000 ± 0.0100 | 4.0000 ± 0.0100 | +0.0000 | within the noise |" in markdown
    assert f"({markdown_escape(missing)})" in markdown and "![Curve, workspace](figures/1-curve.png)" in markdown
    page = (clone / "reports/compare/index.html").read_text()
    assert escape(missing) in page and page.count("data:image/png;base64,") == 1
    published = pipeline(clone, "publish", check=False)
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("published report/index.html, compare/index.html, plots/index.html")
    assert escape(missing) in (clone / "public/compare/index.html").read_text()


def test_compare_and_publish_in_a_clone_with_no_outputs_render_what_git_holds(clone):
    """Before any `dvc repro` (and with a plots file deleted): the workspace has only the git-tracked files."""
    (clone / "plots/curve.csv").unlink()
    compared = pipeline(clone, "compare", "HEAD", "workspace", check=False)
    assert compared.returncode == 0, compared.stderr
    assert compared.stderr.splitlines() == [
        f"compare: HEAD's reports/figures is not in this machine's DVC cache, left out: {FROM_ANOTHER_MACHINE}",
        "compare: workspace's reports/figures is missing, left out: "
        "`dvc pull` (from a DVC remote) or `dvc repro train` brings it",
    ]
    markdown = (clone / "reports/compare/compare.md").read_text()
    assert "| metrics/eval.json:loss | 1.33333 | 1.33333 | +0.00000 |" in markdown
    assert "| 20 | supervised | True | 4.0000 ± 0.0100 | 4.0000 ± 0.0100 | +0.0000 | within the noise |" in markdown
    assert markdown_escape("workspace's reports/figures is missing") in markdown
    published = pipeline(clone, "publish", check=False)
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("published compare/index.html, plots/index.html in public/")
    assert published.stderr.splitlines() == [
        "publish: reports/index.html, reports/figures missing from the workspace: the report is left out; "
        "`dvc repro` (or `dvc pull` with a DVC remote) brings them",
        "publish: the plots page leaves out plots/curve.csv, missing from the workspace (or not in this machine's "
        "DVC cache); `dvc repro` (or `dvc pull` with a DVC remote) brings it",
    ]
    assert not (clone / "public/report").exists()


# --- publish ---------------------------------------------------------------------------------------------------


def published(repo: Path) -> Path:
    pipeline(repo, "compare", "small", "large")  # reports/compare/, which publish takes along
    result = pipeline(repo, "publish")
    assert result.stdout.startswith("published report/index.html, compare/index.html, plots/index.html in public/")
    return repo / "public"


def test_publish_inlines_vega_and_no_page_loads_from_the_network(repo):
    from pipeline.publish import network_loads

    site = published(repo)
    plots = (site / "plots/index.html").read_text()
    versions = json.loads((ROOT / "pipeline/vendor/versions.json").read_text())
    for name, entry in versions.items():
        assert f"<!-- {name} {entry['version']}, {entry['spdx']}" in plots
        assert (ROOT / "pipeline/vendor" / entry["file"]).read_text() in plots
    assert "cdn.jsdelivr.net" not in plots and plots.count("vegaEmbed('#") == 2  # the top-level plot and the CSV's
    assert network_loads(site) == []
    index = (site / "index.html").read_text()
    assert all(f'href="{page}"' in index for page in ("report/index.html", "compare/index.html", "plots/index.html"))


def test_network_loads_finds_what_dvcs_own_plots_page_would_fetch(repo):
    from pipeline.publish import network_loads

    run(repo, str(BIN / "dvc"), "plots", "show", "-o", "default")  # DVC's own template: Vega from a CDN
    (repo / "default/fonts.html").write_text(
        '<link rel="stylesheet" href="//fonts.example.org/a.css">'
        '<a href="https://example.org/">a link loads nothing</a>'
        "<style>@import 'https://example.org/b.css';</style>"
    )
    loads = network_loads(repo / "default")
    assert [url for _, url in loads] == [
        "//fonts.example.org/a.css",
        "https://example.org/b.css",
        *(
            f"https://cdn.jsdelivr.net/npm/{package}"
            for package in ("vega@5.20.2", "vega-lite@5.2.0", "vega-embed@6.18.2")
        ),
    ]


def test_publish_refuses_a_page_that_would_load_from_the_network_and_publishes_nothing(repo):
    (repo / "reports/compare").mkdir(parents=True)
    (repo / "reports/compare/index.html").write_text('<img src="https://example.org/a.png">')
    refused = pipeline(repo, "publish", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: publish: compare/index.html would load https://example.org/a.png over "
        "the network (1 such loads); nothing was published"
    )
    assert not (repo / "public").exists()


def test_vendored_vega_builds_are_the_recorded_files_with_their_licences():
    vendor = ROOT / "pipeline/vendor"
    versions = json.loads((vendor / "versions.json").read_text())
    assert list(versions) == ["vega", "vega-lite", "vega-embed"]
    for entry in versions.values():
        assert hashlib.sha256((vendor / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        assert "Redistribution and use in source and binary forms" in (vendor / entry["license"]).read_text()
    assert "d3-array" in (vendor / "THIRD-PARTY-LICENSES.txt").read_text()


# --- in a real browser, offline ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser scripts/check-site-offline.py would use; the test skips without one (before building anything)."""
    spec = importlib.util.spec_from_file_location("check_site_offline", CHECK_SITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = module.find_chromium()
    if found is None:
        pytest.skip("no Chromium: the offline browser check needs one (apt-get install chromium, or set CHROMIUM)")
    return found


def check_site(repo: Path, site: Path, *options: str) -> subprocess.CompletedProcess:
    return run(repo, str(BIN / "python"), str(CHECK_SITE), str(site), *options, check=False)


def test_every_published_page_works_offline_in_chromium(chromium, repo):
    site = published(repo)
    checked = check_site(repo, site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "4 of 4 pages work offline" in checked.stdout
    assert "ok   plots/index.html" in checked.stdout


def test_dvcs_own_plots_page_is_blank_offline_in_chromium(chromium, repo):
    (repo / "site").mkdir()
    run(repo, str(BIN / "dvc"), "plots", "show", "-o", "site/plots")  # what publish used to ship
    checked = check_site(repo, repo / "site", "--plot-wait", "2")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "FAIL   plots/index.html" in checked.stdout
    assert "requested https://cdn.jsdelivr.net/npm/vega@5.20.2 over the network" in checked.stdout
    assert "JavaScript error: ReferenceError: vegaEmbed is not defined" in checked.stdout
    assert "plot #Loss_against_epochs was not drawn" in checked.stdout


def test_the_browser_check_catches_fonts_images_and_scripts_from_the_network(chromium, tmp_path):
    (tmp_path / "page.html").write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.example.org/a.css"></head>'
        '<body><img src="missing.png"><script>fetch("http://127.0.0.1:9/data.json").catch(() => {});</script>'
        "</body></html>"
    )
    checked = check_site(tmp_path, tmp_path, "--plot-wait", "2")
    assert checked.returncode == 1
    assert "requested https://fonts.example.org/a.css over the network" in checked.stdout
    assert "requested http://127.0.0.1:9/data.json over the network" in checked.stdout
    assert "image missing.png did not load" in checked.stdout

"""One folder that any static web server can serve, and that works opened from disk with no network: the report,
the comparison pages and DVC's plots.

DVC's own plots page loads Vega from a CDN (blank offline); this one is rendered by ``dvc plots show`` into
templates/plots.html.j2, which inlines the Vega builds vendored in pipeline/vendor/. Before the folder is
renamed into place, every page is checked for a script, style sheet, image or frame it would load over the
network (``scripts/check-site-offline.py`` also opens each page in a headless browser).

What the workspace lacks (the report's files before `dvc repro`, a plots file that is not there or not in this
machine's DVC cache) is left out and named; only a site with no page at all is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from markupsafe import Markup

from pipeline.errors import UserError
from pipeline.runtime import io, paths

COMPARISON = paths.REPORTS / "compare"
REPORT_FILES = (paths.REPORTS / "index.html", paths.REPORTS / "report.md", paths.REPORTS / "figures")
BRINGS = "`dvc repro` (or `dvc pull` with a DVC remote) brings"
VENDOR = Path(__file__).parent / "vendor"
VEGA = ("vega", "vega-lite", "vega-embed")  # in loading order: vega-lite needs vega, vega-embed both
PAGES = {"report/index.html": "The report", "compare/index.html": "The comparison", "plots/index.html": "DVC plots"}
# What a page would fetch by itself: src/href of the elements that load (not <a href>), CSS url() and @import.
_LOADING_TAG = re.compile(
    r"<(?:script|img|iframe|frame|embed|source|audio|video|track|input|object|link)\b[^>]*?"
    r"\b(?:src|href|data|srcset|poster)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])\s*((?:https?:)?//[^\"')\s]+)", re.IGNORECASE)


def publish(output: Path) -> tuple[list[str], list[str]]:
    """Build ``output`` whole (renamed into place at the end); return the pages it holds and what it left out."""
    from pipeline.report.render import environment

    templates = environment()
    left_out, pages = [], []
    with io.atomic_path(output, directory=True) as folder:
        present = [path for path in REPORT_FILES if path.exists()]
        if REPORT_FILES[0] in present:  # the page holds its figures (report.md links to figures/)
            for path in present:
                _copy(path, folder / "report" / path.name)
            pages.append("report/index.html")
        if len(present) < len(REPORT_FILES):
            absent = ", ".join(str(path) for path in REPORT_FILES if path not in present)
            fate = "published without them" if pages else "left out"
            left_out.append(f"{absent} missing from the workspace: the report is {fate}; {BRINGS} them")
        if (COMPARISON / "index.html").exists():
            _copy(COMPARISON, folder / "compare")
            pages.append("compare/index.html")
        plots, unloaded = _plots(
            folder / "plots", templates.get_template("plots.html.j2").render(scripts=vendored_scripts())
        )
        if plots:
            pages.append("plots/index.html")
        if unloaded:
            left_out.append(
                f"the plots page leaves out {', '.join(unloaded)}, missing from the workspace (or not in this "
                f"machine's DVC cache); {BRINGS} {'it' if len(unloaded) == 1 else 'them'}"
            )
        if not pages:
            raise UserError(f"publish: nothing to publish: {'; '.join(left_out) or 'no report and no plots'}")
        (folder / "index.html").write_text(
            templates.get_template("publish.html.j2").render(pages={page: PAGES[page] for page in pages})
        )
        loads = network_loads(folder)
        if loads:
            page, url = loads[0]
            raise UserError(
                f"publish: {page} would load {url} over the network ({len(loads)} such loads); nothing was published"
            )
    return pages, left_out


def _plots(target: Path, template: str) -> tuple[bool, list[str]]:
    """DVC's plots page into ``target`` with our template: whether there is one (none where the project declares
    no plots), and the plots files it draws empty because DVC could not load them."""
    with tempfile.TemporaryDirectory() as work:
        template_file = Path(work) / "plots.html"
        template_file.write_text(template, encoding="utf-8")
        plots = _dvc_plots_show("--html-template", str(template_file), "-o", str(target))
    # DVC still writes the page (exit 0) and says only which revision failed; --json names the files.
    unloaded = "failed to load some plots" in plots.stderr
    return (target / "index.html").is_file(), _unloaded_plots() if unloaded else []


def _unloaded_plots() -> list[str]:
    """The plots files DVC could not load: absent from the workspace, or DVC outputs not in this machine's cache."""
    shown = _dvc_plots_show("--json")
    try:
        errors = json.loads(shown.stdout).get("errors", [])
    except json.JSONDecodeError:
        return ["some plots"]
    return sorted({error.get("source", "?") for error in errors}) or ["some plots"]


def _dvc_plots_show(*arguments: str) -> subprocess.CompletedProcess:
    shown = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show", *arguments], capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        raise UserError(f"publish: `dvc plots show` failed: {(shown.stderr.strip().splitlines() or ['?'])[-1]}")
    return shown


def vendored_scripts() -> list[dict]:
    """Vega, Vega-Lite and vega-embed as pipeline/vendor/ holds them, checked against versions.json."""
    versions = json.loads((VENDOR / "versions.json").read_text(encoding="utf-8"))
    scripts = []
    for name in VEGA:
        entry = versions[name]
        code = (VENDOR / entry["file"]).read_bytes()
        if hashlib.sha256(code).hexdigest() != entry["sha256"]:
            raise UserError(
                f"publish: {VENDOR / entry['file']} is not the file versions.json records; "
                f"restore it (git checkout) or run `python {VENDOR / 'update.py'}`"
            )
        text = code.decode("utf-8")
        if re.search(r"</script|<!--", text, re.IGNORECASE):  # would end or confuse the inline <script> element
            raise UserError(f"publish: {VENDOR / entry['file']} holds '</script' or '<!--' and cannot be inlined")
        scripts.append({**entry, "name": name, "code": Markup(text)})
    return scripts


def network_loads(folder: Path) -> list[tuple[str, str]]:
    """(page, URL) for every resource an HTML page under ``folder`` would load from the network by itself."""
    found = []
    for page in sorted(folder.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        for pattern in (_LOADING_TAG, _CSS_URL):
            found += [(page.relative_to(folder).as_posix(), match.group(1)) for match in pattern.finditer(text)]
    return found


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)

"""One folder that any static web server can serve: the report, the comparison pages and DVC's plots."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pipeline import io, paths
from pipeline.errors import UserError
from pipeline.report.render import environment

COMPARISON = paths.REPORTS / "compare"


def publish(output: Path) -> list[str]:
    """Build ``output`` whole (renamed into place at the end); return the pages it holds."""
    report_files = [paths.REPORTS / "index.html", paths.REPORTS / "report.md", paths.REPORTS / "figures"]
    missing = [str(path) for path in report_files if not path.exists()]
    if missing:
        raise UserError(f"publish: {', '.join(missing)} missing; run `dvc repro` (or `dvc pull`) first")
    with io.atomic_path(output, directory=True) as folder:
        for path in report_files:
            _copy(path, folder / "report" / path.name)
        pages = ["report/index.html"]
        if (COMPARISON / "index.html").exists():
            _copy(COMPARISON, folder / "compare")
            pages.append("compare/index.html")
        plots = subprocess.run(["dvc", "plots", "show", "-o", str(folder / "plots")], capture_output=True, text=True)
        if plots.returncode != 0:
            raise UserError(f"publish: `dvc plots show` failed: {(plots.stderr.strip().splitlines() or ['?'])[-1]}")
        pages.append("plots/index.html")
        (folder / "index.html").write_text(environment().get_template("publish.html.j2").render(pages=pages))
    return pages


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)
